/**
 * The aggregate snapshots stored beside the server's log, seen from a client (`client.snapshots()`):
 * a page of them below a prefix, and one stream's with its state. Read-only; only streams the key
 * may `read`. Design: docs/design/0013-server.md, "Snapshots".
 *
 * @module
 */
import type { Client } from '@connectrpc/connect';
import { InvalidArgumentError } from '@strand/core';
import type { snapshotWire } from '@strand/protocol';

type Rpc = Client<typeof snapshotWire.SnapshotService>;

/** A stored snapshot as the server reports it. */
export interface RemoteSnapshot {
  readonly stream: string;
  /** Stream version the state folds up to (inclusive). */
  readonly version: number;
  /** The aggregate that wrote it. */
  readonly aggregate: string;
  /** The aggregate's state version when it was written. */
  readonly stateVersion: number;
  /** When it was written, ms since the Unix epoch. */
  readonly takenAt: number;
  /** Size of the stored record (its JSON), bytes. */
  readonly bytes: number;
}

function fromWire(s: snapshotWire.Snapshot): RemoteSnapshot {
  return { stream: s.stream, version: Number(s.version), aggregate: s.aggregate, stateVersion: s.stateVersion, takenAt: Number(s.takenAt), bytes: Number(s.sizeBytes) };
}

/** The snapshots of this key's log (tenant). Needs `read` on each stream. */
export class RemoteSnapshots {
  /** @internal */
  constructor(
    private readonly rpc: Rpc,
    private readonly call: <T>(fn: () => Promise<T>, retry: boolean) => Promise<T>,
  ) {}

  /**
   * One page of the snapshots below `prefix` (every stream when empty), in stream order; pass
   * `next` back as `after` for the next page.
   */
  async list(prefix = '', options: { after?: string; limit?: number } = {}): Promise<{ snapshots: RemoteSnapshot[]; next?: string }> {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('list options must be an object.');
    const limit = options.limit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidArgumentError(`limit must be an integer >= 0; got ${String(limit)}.`);
    const res = await this.call(() => this.rpc.listSnapshots({ prefix, after: options.after ?? '', limit }), true);
    return { snapshots: res.snapshots.map(fromWire), ...(res.next === undefined ? {} : { next: res.next }) };
  }

  /** A stream's snapshot with its state (undefined when it has none). */
  async get(stream: string): Promise<(RemoteSnapshot & { state: unknown }) | undefined> {
    const res = await this.call(() => this.rpc.getSnapshot({ stream }), true);
    return res.snapshot === undefined ? undefined : { ...fromWire(res.snapshot), state: JSON.parse(res.snapshot.state) as unknown };
  }
}
