/**
 * Errors of the projections package (codes listed in docs/errors.md).
 *
 * @module
 */
import { StrandError } from '@strand/core';

/** A read-your-writes wait ran out of time; names every projection that was late. */
export class ProjectionTimeoutError extends StrandError {
  /** The late projections with the position each had reached. */
  readonly late: ReadonlyArray<{ name: string; position: number; parked: number }>;

  constructor(position: number, timeoutMs: number, late: ReadonlyArray<{ name: string; position: number; parked: number }>) {
    const list = late.map((l) => `${l.name} (at ${l.position}${l.parked > 0 ? `, ${l.parked} parked streams` : ''})`).join(', ');
    super(
      'STRAND_PROJECTION_TIMEOUT',
      'unavailable',
      `Timed out after ${timeoutMs} ms waiting for projections to reach position ${position}: ${list}. The events are committed; check the projection's lag and parked streams (strand projections), or raise the timeout.`,
      { details: { position, timeoutMs, late } },
    );
    this.late = late;
  }
}

/** The stream the caller waits for is parked in this projection: it will not catch up by itself. */
export class ProjectionParkedError extends StrandError {
  constructor(projection: string, stream: string, error: string) {
    super(
      'STRAND_PROJECTION_PARKED',
      'unavailable',
      `Projection ${projection} parked stream "${stream}" after its handler failed (${error}). The events are committed; fix the handler and call retry("${stream}") or skip("${stream}").`,
      { details: { projection, stream, error } },
    );
  }
}

/** A projection was stopped while a caller waited for it. */
export class ProjectionStoppedError extends StrandError {
  constructor(projection: string) {
    super('STRAND_PROJECTION_STOPPED', 'closed', `Projection ${projection} was stopped. Start it again to keep its read model current.`, { details: { projection } });
  }
}
