/**
 * Maintenance of the event log: soft-deleting a stream, truncating its history, compaction and
 * the store-wide invariant check. Head changes go through the commit pipeline, so they are ordered
 * with appends (docs/design/0002-commit-path.md, "Durability contract").
 *
 * @module
 */
import type { CommitPipeline } from '../commit/pipeline.js';
import type { BatchOp } from '../commit/hook-tx.js';
import { type ExpectedVersion, InvalidArgumentError, StreamDeletedError, WrongExpectedVersionError } from '../errors.js';
import { eventIdKey, globalKey, streamKey, streamPrefix } from '../keys.js';
import { assertStreamName } from '../names.js';
import { recordKey } from '../record/decode.js';
import type { StreamInfo } from '../types.js';
import { assertCount, assertExpectedVersion } from '../validate.js';
import { type VerifyReport, verifyStore } from '../verify.js';
import { type LogContext, VALUE_OPTS, writeOptions } from './context.js';
import { RangeCompactor } from './range-compactor.js';
import { infoOf } from './reads.js';

type Compactable = { compactRange?: (a: Uint8Array, b: Uint8Array, o: object) => Promise<void> };

/** Delete, truncate, compact and verify for one log. */
export class Maintenance {
  /** Compacts truncated ranges in the background (`range-compactor.ts`). */
  readonly truncated: RangeCompactor | undefined;

  constructor(
    private readonly ctx: LogContext,
    private readonly pipeline: CommitPipeline,
    now: () => number,
  ) {
    const compact = (ctx.store as Compactable).compactRange;
    this.truncated =
      typeof compact === 'function'
        ? new RangeCompactor({
            compact: (start, end) => compact.call(ctx.store, start, end, { keyEncoding: 'view' }),
            now,
            onError: (err) => ctx.logger.warn({ err }, 'compacting truncated history failed (the store compacts it eventually)'),
          })
        : undefined;
  }

  /** Stops background compaction (closing). */
  close(): Promise<void> {
    return this.truncated?.close() ?? Promise.resolve();
  }

  /** See {@link EventLog.deleteStream}. */
  async deleteStream(stream: string, options: { expectedVersion?: ExpectedVersion }): Promise<StreamInfo> {
    assertStreamName(stream);
    const expected = options.expectedVersion ?? 'any';
    assertExpectedVersion(expected);
    const head = await this.pipeline.submitHead(stream, (h) => {
      if (h === null) throw new WrongExpectedVersionError(stream, expected, -1);
      if (h.deleted) throw new StreamDeletedError(stream);
      if (typeof expected === 'number' ? h.version !== expected : expected === 'no_stream') throw new WrongExpectedVersionError(stream, expected, h.version);
      return { ...h, deleted: true };
    });
    return infoOf(stream, head);
  }

  /** See {@link EventLog.truncateBefore}. */
  async truncateBefore(stream: string, version: number): Promise<{ truncatedBefore: number; removed: number }> {
    assertStreamName(stream);
    assertCount('version', version, { min: 1, optional: false });
    let previous = 1;
    // Where the newest removed event sits in global order, recorded with the new floor so readers
    // of global order (projections) can tell whether they saw the history (docs/design/0007).
    const newest = version > 1 ? ((await this.ctx.store.get(streamKey(streamPrefix(stream), version - 1), VALUE_OPTS)) as Uint8Array | undefined) : undefined;
    const newestPosition = newest === undefined ? 0 : recordKey(newest, stream).position;
    // The new floor is recorded (and durable) before any event is removed: a crash midway never
    // exposes a partial history (0002, "Durability contract").
    const head = await this.pipeline.submitHead(stream, (h) => {
      if (h === null) throw new WrongExpectedVersionError(stream, 'stream_exists', -1);
      if (version > h.version + 1) throw new InvalidArgumentError(`Cannot truncate "${stream}" before version ${version}: it is at version ${h.version} (the most is ${h.version + 1}, which removes everything).`);
      previous = h.truncatedBefore;
      if (version <= h.truncatedBefore) return h;
      return { ...h, truncatedBefore: version, truncatedThrough: Math.max(h.truncatedThrough ?? h.lastPosition, newestPosition) };
    });
    const removed = await this.removeRange(stream, 1, head.truncatedBefore - 1);
    this.ctx.logger.debug({ stream, truncatedBefore: head.truncatedBefore, previous, removed }, 'truncated');
    return { truncatedBefore: head.truncatedBefore, removed };
  }

  private async removeRange(stream: string, from: number, to: number): Promise<number> {
    if (to < from) return 0;
    const { store, ring } = this.ctx;
    const prefix = streamPrefix(stream);
    let removed = 0;
    const it = store.iterator({ gte: streamKey(prefix, from), lte: streamKey(prefix, to), ...VALUE_OPTS });
    try {
      for (;;) {
        const page = (await it.nextv(1000)) as Array<[Uint8Array, Uint8Array]>;
        if (page.length === 0) break;
        const ops: BatchOp[] = [];
        for (const [key, value] of page) {
          const { position, id } = recordKey(value, stream);
          // The id leaves the stream's retained history with its event (a caller may reuse it).
          ops.push({ type: 'del', key: globalKey(position) }, { type: 'del', key }, { type: 'del', key: eventIdKey(prefix, id) });
          ring.forget(position);
          removed++;
        }
        await store.batch(ops as never, writeOptions(this.ctx.durability === 'sync'));
      }
    } finally {
      await it.close();
    }
    // The events are gone for every reader now; the bytes leave the disk when the background
    // compactor gets to the range (coalesced, at a bounded rate: 0002, "Truncation").
    if (removed > 0) this.truncated?.add(streamKey(prefix, from), streamKey(prefix, to));
    return removed;
  }

  /** See {@link EventLog.verify}. */
  async verify(onProgress?: (checked: number) => void): Promise<VerifyReport> {
    await this.pipeline.drained;
    return verifyStore(this.ctx.store, this.ctx.position(), onProgress);
  }

  /** See {@link EventLog.compact}. */
  async compact(): Promise<void> {
    const compact = (this.ctx.store as Compactable).compactRange;
    this.truncated?.clear(); // covered by the full compaction
    if (typeof compact === 'function') await compact.call(this.ctx.store, Uint8Array.of(0x00), Uint8Array.of(0xff), { keyEncoding: 'view' });
  }
}
