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
      { details: { position, timeoutMs, late, committed: true } },
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
      `Projection ${projection} parked stream "${stream}" after its handler failed (${error}). The events are committed (do not send them again); fix the handler and call retry("${stream}") or skip("${stream}").`,
      { details: { projection, stream, error, committed: true } },
    );
  }
}

/** Why a runner could not be waited for: never started, stopped, or stopped by a failure. */
export type StoppedReason = 'not-started' | 'stopped' | 'failed';

/**
 * A caller waited for a projection that is not running: never started, stopped meanwhile, or
 * stopped by a storage failure (`cause`). Events the caller appended before waiting are committed.
 */
export class ProjectionStoppedError extends StrandError {
  constructor(projection: string, reason: StoppedReason = 'stopped', cause?: unknown) {
    const what =
      reason === 'not-started'
        ? `Projection ${projection} was never started: call runner.start() before waiting for it`
        : reason === 'failed'
          ? `Projection ${projection} stopped after a failure (${cause instanceof Error ? cause.message : String(cause)}): start it again once the store is healthy`
          : `Projection ${projection} was stopped while you waited: start it again to keep its read model current`;
    super('STRAND_PROJECTION_STOPPED', 'closed', `${what}. Events appended before the wait are committed (do not send them again); only the read model is not confirmed.`, {
      cause,
      details: { projection, reason, committed: true },
    });
  }
}

/**
 * A projection reached a stream whose earlier events were truncated before it saw them, and
 * neither an archive nor the projection's declaration says how to go on: the stream is parked
 * rather than projected from a partial history. Code `STRAND_STREAM_TRUNCATED`.
 */
export class StreamHistoryMissingError extends StrandError {
  constructor(projection: string, stream: string, version: number, truncatedThrough: number, hadArchive: boolean) {
    super(
      'STRAND_STREAM_TRUNCATED',
      'data',
      `Projection ${projection} reached "${stream}" at version ${version}, but earlier events of it were truncated before the projection saw them${hadArchive ? ' and the archive does not hold all of them' : ''}; projecting the rest would be silently wrong, so the stream is parked. Give the runner the archive the retention policy wrote to (archive: s3Archive(...)), or declare in the projection how it starts truncated streams (truncated: 'from-first-kept'), then retry("${stream}").`,
      { details: { projection, stream, version, truncatedThrough } },
    );
  }
}
