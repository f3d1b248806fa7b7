/**
 * The server's hosted projections seen from a client: status, lag, parked streams, retry, skip and
 * rebuild (`client.projections()`). Design: docs/design/0013-server.md, "Hosted projections".
 *
 * @module
 */
import type { Client } from '@connectrpc/connect';
import { fromConnectError, fromWireProjectionStatus, type ProjectionParkedInfo, type ProjectionStatusInfo, type projectionWire } from '@strand/protocol';

/** A parked stream of a hosted projection. */
export type RemoteParkedStream = ProjectionParkedInfo;

/** A hosted projection's status, as `ProjectionRunner.status()` reports it in the server. */
export type RemoteProjectionStatus = ProjectionStatusInfo;

type Rpc = Client<typeof projectionWire.ProjectionService>;

/** The projections a server hosts for this key's tenant. Reading needs `read`; changing needs `admin`. */
export class RemoteProjections {
  /** @internal */
  constructor(
    private readonly rpc: Rpc,
    private readonly call: <T>(fn: () => Promise<T>, retry: boolean) => Promise<T>,
  ) {}

  /** Every hosted projection's status. */
  async list(): Promise<RemoteProjectionStatus[]> {
    const res = await this.call(() => this.rpc.listProjections({}), true);
    return res.projections.map(fromWireProjectionStatus);
  }

  /** One projection's status; `STRAND_PROJECTION_NOT_FOUND` when the server hosts none of that name. */
  async status(name: string): Promise<RemoteProjectionStatus> {
    return fromWireProjectionStatus((await this.call(() => this.rpc.getProjection({ name }), true)).status);
  }

  /** Delivers a parked stream again from its failed event; false when it was not parked. */
  async retry(name: string, stream: string): Promise<boolean> {
    return (await this.call(() => this.rpc.retryProjectionParked({ name, stream }), false)).retried;
  }

  /** Skips the failed event of a parked stream and delivers the rest; false when it was not parked. */
  async skip(name: string, stream: string): Promise<boolean> {
    return (await this.call(() => this.rpc.skipProjectionParked({ name, stream }), false)).skipped;
  }

  /**
   * Rebuilds a projection blue/green on the server (the old generation serves until the new one
   * has caught up); resolves with the status after the swap.
   */
  async rebuild(name: string, onProgress: (p: { position: number; head: number }) => void = () => {}): Promise<RemoteProjectionStatus> {
    return this.call(async () => {
      try {
        for await (const m of this.rpc.rebuildProjection({ name })) {
          if (m.done) return fromWireProjectionStatus(m.status);
          onProgress({ position: Number(m.position), head: Number(m.head) });
        }
      } catch (error) {
        throw fromConnectError(error);
      }
      throw fromConnectError(new Error('the rebuild stream ended without its result'));
    }, false);
  }
}
