/**
 * `strand.v1.SnapshotService`: the aggregate snapshots stored beside the caller's log, read
 * through `@strand/aggregate`'s own `SnapshotStore` (the server does not know their key layout),
 * and only those of streams the key may `read`. Design: docs/design/0013-server.md, "Snapshots".
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { SnapshotStore, type SnapshotSummary } from '@strand/aggregate/snapshots';
import { assertStreamName, type EventLog, InvalidArgumentError } from '@strand/core';
import { snapshotWire } from '@strand/protocol';
import { type CallDeps, callPlumbing } from './calls.js';

/** Most snapshots in one page of `ListSnapshots`. */
const MAX_PAGE = 500;
const DEFAULT_PAGE = 100;
/** Most snapshots one `ListSnapshots` looks at (those the key may not read are passed over, not returned). */
const MAX_SCAN = 5000;

const stores = new WeakMap<EventLog, SnapshotStore>();

/** The snapshot store of a log (one per log for this server). */
function storeOf(log: EventLog): SnapshotStore {
  let s = stores.get(log);
  if (s === undefined) stores.set(log, (s = new SnapshotStore(log)));
  return s;
}

type WireSnapshot = MessageInitShape<typeof snapshotWire.SnapshotSchema>;

function toWire(s: SnapshotSummary, state = ''): WireSnapshot {
  return { stream: s.stream, version: BigInt(s.version), aggregate: s.aggregate, stateVersion: s.stateVersion, takenAt: BigInt(s.takenAt), sizeBytes: BigInt(s.bytes), state };
}

/** Registers the snapshot service's handlers on a Connect router. */
export function registerSnapshotService(router: ConnectRouter, deps: CallDeps): void {
  const { unary } = callPlumbing(deps);
  router.service(snapshotWire.SnapshotService, {
    listSnapshots: unary(async (req: snapshotWire.ListSnapshotsRequest, scope): Promise<MessageInitShape<typeof snapshotWire.ListSnapshotsResponseSchema>> => {
      scope.checkHolds('read');
      if (req.prefix !== '') assertStreamName(req.prefix);
      if (req.limit > MAX_PAGE) throw new InvalidArgumentError(`limit is at most ${MAX_PAGE}; got ${req.limit}.`);
      const limit = req.limit === 0 ? DEFAULT_PAGE : req.limit;
      const out: WireSnapshot[] = [];
      let scanned = 0;
      let last: string | undefined;
      let more = false;
      for await (const s of storeOf(await scope.log()).list(req.prefix === '' ? undefined : req.prefix, req.after === '' ? {} : { after: req.after })) {
        if (out.length === limit || scanned === MAX_SCAN) {
          more = true;
          break;
        }
        scanned++;
        last = s.stream;
        if (scope.may('read', s.stream)) out.push(toWire(s));
      }
      return { snapshots: out, ...(more && last !== undefined ? { next: last } : {}) };
    }),

    getSnapshot: unary(async (req: snapshotWire.GetSnapshotRequest, scope): Promise<MessageInitShape<typeof snapshotWire.GetSnapshotResponseSchema>> => {
      assertStreamName(req.stream);
      scope.check('read', req.stream);
      const found = await storeOf(await scope.log()).inspect(req.stream);
      if (found === undefined) return {};
      const { record, bytes } = found;
      return { snapshot: toWire({ stream: req.stream, version: record.version, aggregate: record.aggregate, stateVersion: record.stateVersion, takenAt: record.takenAt, bytes }, JSON.stringify(record.state)) };
    }),
  });
}
