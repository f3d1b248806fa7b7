import assert from 'node:assert/strict';
import { MemoryLevel } from 'memory-level';
import { describe, it } from 'vitest';
import { jsonCodec } from '../codec.js';
import { type ExpectedVersion, isStrandError } from '../errors.js';
import { HeadCache } from '../head-cache.js';
import { Space } from '../keys.js';
import { LiveRing } from '../live-ring.js';
import { decodeRecord } from '../record/decode.js';
import { silentLogger } from '../plugins.js';
import { CommitPipeline } from './pipeline.js';
import { type PreparedPart, prepareAppend } from './prepare.js';

/**
 * A memory store whose batches fail while `failing` says so (the write itself never happens). A
 * failing batch waits for `hold` first, so later batches can start while it is in flight.
 */
class FailingStore extends MemoryLevel<Uint8Array, Uint8Array> {
  failing: (ops: readonly unknown[]) => boolean = () => false;
  hold: Promise<void> | undefined;
  batches = 0;
  onBatch: (count: number) => void = () => {};

  constructor() {
    super({ keyEncoding: 'view', valueEncoding: 'view' });
    // abstract-level's private write hook (not in its types): every batch of the log goes through it.
    const self = this as unknown as { _batch(ops: unknown[], options: unknown): Promise<void> };
    const inner = self._batch;
    self._batch = async (operations, options) => {
      this.onBatch(++this.batches);
      if (this.failing(operations)) {
        await this.hold;
        throw new Error('injected batch failure');
      }
      return inner.call(this, operations, options);
    };
  }
}

async function setup(pipelineDepth = 1) {
  const store = new FailingStore();
  await store.open();
  const pipeline = new CommitPipeline({
    store,
    codec: jsonCodec,
    textRecords: true,
    sync: false,
    heads: new HeadCache(100),
    ring: new LiveRing(64, 0),
    maxGroupSize: 1024,
    pipelineDepth,
    commitHooks: [],
    intercept: (e) => e,
    clock: () => 1_000,
    logger: silentLogger,
    lastPosition: 0,
    onAdvance: () => {},
  });
  let ids = 0;
  const part = (stream: string, n: number, expectedVersion: ExpectedVersion = 'any'): Promise<PreparedPart> =>
    prepareAppend(
      { stream, events: Array.from({ length: n }, (_, i) => ({ type: 'T', data: { i } })), expectedVersion, recreate: false },
      { codec: jsonCodec, textRecords: true, maxEventBytes: 1 << 20, maxAppendEvents: 100, appendInterceptors: [], newId: () => `id-${++ids}` },
    );
  /** Global positions in the store, in order. */
  const positions = async (): Promise<number[]> => {
    const values = await store.values({ gte: Uint8Array.of(Space.global), lt: Uint8Array.of(Space.global + 1), valueEncoding: 'view' }).all();
    return values.map((v) => decodeRecord(v, jsonCodec).position);
  };
  return { store, pipeline, part, positions };
}

const isUnavailable = (e: unknown) => isStrandError(e, 'STRAND_STORAGE_UNAVAILABLE');

describe('CommitPipeline against a store whose batches fail', () => {
  it('resets positions after a failed group write: the next group starts at the acknowledged position + 1', async () => {
    const { store, pipeline, part, positions } = await setup();
    await pipeline.submitAppend([await part('s/a', 2)]);
    assert.equal(pipeline.lastPosition, 2);
    store.failing = () => true;
    await assert.rejects(pipeline.submitAppend([await part('s/b', 3)]), isUnavailable);
    assert.equal(pipeline.lastPosition, 2, 'a failed group does not move the position');
    store.failing = () => false;
    const [r] = await pipeline.submitAppend([await part('s/c', 1)]);
    assert.equal(r!.firstPosition, 3, 'positions of the failed group are not consumed');
    assert.equal(pipeline.lastPosition, 3);
    assert.deepEqual(await positions(), [1, 2, 3], 'the global order stays gapless');
  });

  it('drops the speculative heads of a failed group: the stream is at its acknowledged version again', async () => {
    const { store, pipeline, part } = await setup();
    await pipeline.submitAppend([await part('s/a', 1)]);
    store.failing = () => true;
    await assert.rejects(pipeline.submitAppend([await part('s/a', 2, 1)]), isUnavailable);
    store.failing = () => false;
    // Built on the failed group's head (version 3), this would be rejected as a wrong expected version.
    const [r] = await pipeline.submitAppend([await part('s/a', 1, 1)]);
    assert.equal(r!.version, 2);
    assert.equal(r!.position, 2);
  });

  it('with groups in flight, a failure fails every later group whose write started after it, and the log resumes from the acknowledged state', async () => {
    const { store, pipeline, part, positions } = await setup(4);
    await pipeline.submitAppend([await part('s/a', 1)]);
    const [p1, p2, p3] = [await part('s/a', 1, 1), await part('s/a', 1, 2), await part('s/b', 1)];
    // Only the first group's batch fails, and only once the later groups' batches have started:
    // they reach this store, but were validated against the failed group's heads and positions.
    let release!: () => void;
    store.hold = new Promise((r) => (release = r));
    let seen = 0;
    store.failing = () => ++seen === 1;
    const first = store.batches;
    store.onBatch = (n) => {
      if (n === first + 2) release();
    };
    const a1 = pipeline.submitAppend([p1]);
    const later = [pipeline.submitAppend([p2]), pipeline.submitAppend([p3])];
    const outcomes = await Promise.allSettled([a1, ...later]);
    assert.equal(store.batches - first, 2, 'the second group was written while the first was in flight');
    for (const o of outcomes) assert.ok(o.status === 'rejected' && isUnavailable(o.reason), `every group fails: ${JSON.stringify(o)}`);
    assert.equal(pipeline.lastPosition, 1);
    store.failing = () => false;
    const [r] = await pipeline.submitAppend([await part('s/a', 1, 1)]);
    assert.deepEqual([r!.version, r!.position], [2, 2]);
    assert.equal(pipeline.lastPosition, 2);
    assert.deepEqual((await positions()).slice(0, 2), [1, 2]);
  });

  it('a group validated while an earlier group fails is not written on top of the failed heads', async () => {
    // The first group's batch fails at once, typically while the second group reads its heads:
    // the second group was validated against heads that never became durable.
    const { store, pipeline, part } = await setup(4);
    await pipeline.submitAppend([await part('s/a', 1)]);
    const [p1, p2] = [await part('s/a', 1, 1), await part('s/a', 1, 2)];
    let seen = 0;
    store.failing = () => ++seen === 1;
    const outcomes = await Promise.allSettled([pipeline.submitAppend([p1]), pipeline.submitAppend([p2])]);
    // Either the second group fails with the first, or it was validated after the failure (and then
    // expects a version the stream never reached): never accepted at version 3.
    for (const o of outcomes) assert.equal(o.status, 'rejected', JSON.stringify(o));
    store.failing = () => false;
    const [r] = await pipeline.submitAppend([await part('s/a', 1, 1)]);
    assert.deepEqual([r!.version, r!.position], [2, 2]);
  });

  it('a failed head read rejects the group and leaves the pipeline usable', async () => {
    const { store, pipeline, part } = await setup();
    const getMany = store.getMany.bind(store);
    let fail = true;
    (store as unknown as { getMany: unknown }).getMany = (...args: Parameters<typeof getMany>) => (fail ? Promise.reject(new Error('injected read failure')) : getMany(...args));
    await assert.rejects(pipeline.submitAppend([await part('s/a', 1)]), isUnavailable);
    fail = false;
    const [r] = await pipeline.submitAppend([await part('s/a', 1)]);
    assert.equal(r!.position, 1);
  });
});
