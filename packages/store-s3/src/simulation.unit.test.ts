/**
 * Seeded deterministic simulation: writers on a fault-injecting in-memory bucket, on a virtual
 * clock, crash, get fenced by new writers and fail, while a Map model checks that
 *  - every acknowledged write survives (crashes, fencing, faults, compaction, GC);
 *  - nothing unacknowledged is partly visible: what a new writer sees is exactly the model
 *    state after some prefix of each earlier writer's batches (WAL order), a prefix that holds
 *    every acknowledged batch; so batches are all-or-nothing.
 * Same seed, same run (checked); a failure names its seed. Replay one with
 * STORE_S3_SIM_SEED=<seed> npx vitest run packages/store-s3/src/simulation.unit.test.ts; run more
 * with STORE_S3_SIM_SEEDS=<count> (and STORE_S3_SIM_FROM=<first seed>, default 1000).
 */
import { describe, expect, it } from 'vitest';
import type { Random } from './clock.js';
import { seededRandom } from './clock.js';
import { FaultyObjectStore } from './object-store/faulty.js';
import { InMemoryObjectStore } from './object-store/memory.js';
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './object-store/types.js';
import { ObjectStoreError } from './object-store/types.js';
import { S3Level } from './s3-level.js';
import { SimClock } from './testing/sim-clock.js';
import type { WalBatch } from './wal/format.js';
import { WAL_WINDOW_MAX, walKey } from './wal/format.js';
import { encodeLegacyWal } from './wal/legacy.fixture.js';

/** `sliceOf`: the value is a view of the previous op's value bytes from this offset (the event log's record and body). */
type Op = { type: 'put'; key: string; value: string; sliceOf?: number } | { type: 'del'; key: string } | { type: 'clear'; gte: string; lt: string };

interface IssuedBatch {
  ops: Op[];
  acked: boolean;
  settled: boolean;
  /** The code it was rejected with, if it was. */
  errorCode?: string;
}

/** Rejections that promise nothing of the batch was written (docs/errors.md). */
const NOTHING_WRITTEN = new Set(['STRAND_FENCED', 'STRAND_S3_UNAVAILABLE']);

/** A bucket connection that dies with its process: requests after the crash never arrive. */
class ProcessStore implements ObjectStore {
  dead = false;
  constructor(private readonly inner: ObjectStore) {}
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.dead) throw new ObjectStoreError('process crashed', { retryable: false });
    const r = await fn();
    if (this.dead) throw new ObjectStoreError('process crashed (response lost)', { retryable: false });
    return r;
  }
  get(key: string) {
    return this.call(() => this.inner.get(key));
  }
  getRange(key: string, s: number, e: number) {
    return this.call(() => this.inner.getRange(key, s, e));
  }
  put(key: string, body: Uint8Array, o?: PutOptions): Promise<PutResult> {
    return this.call(() => this.inner.put(key, body, o));
  }
  delete(key: string) {
    return this.call(() => this.inner.delete(key));
  }
  list(prefix: string, o?: ListOptions): Promise<ObjectInfo[]> {
    return this.call(() => this.inner.list(prefix, o));
  }
}

function applyOp(state: Map<string, string>, op: Op): void {
  if (op.type === 'put') state.set(op.key, op.value);
  else if (op.type === 'del') state.delete(op.key);
  else for (const k of [...state.keys()]) if (k >= op.gte && k < op.lt) state.delete(k);
}

function sameState(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

const KEYS = Array.from({ length: 24 }, (_, i) => `k${String(i).padStart(2, '0')}`);

interface SimResult {
  trace: string;
  sessions: number;
  acked: number;
  faults: Record<string, number>;
  /** Fence rounds whose old writer reported STRAND_FENCED / had stopped on an injected fault. */
  fencedOutcomes: number;
  faultOutcomes: number;
  /** Batches rejected with STRAND_COMMIT_UNKNOWN. */
  commitUnknown: number;
  /** WAL objects of an older format the first writer replayed. */
  legacy: number;
}

/** True when an error's message or cause chain names a fault the simulation injected. */
function stoppedByInjectedFault(err: unknown): boolean {
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (/injected|torn upload/.test(e.message ?? '')) return true;
  }
  return false;
}

async function simulate(seed: number): Promise<SimResult> {
  const clock = new SimClock();
  if (process.env.STORE_S3_SIM_DEBUG) {
    const orig = clock.sleep.bind(clock);
    let n = 0;
    clock.sleep = (ms: number) => {
      if (++n % 20000 === 0) console.log('timers', n, 'now', clock.now(), new Error().stack?.split('\n').slice(2, 6).join(' | '));
      return orig(ms);
    };
  }
  return clock.run(scenario(clock, seed), 2_000_000);
}

async function scenario(clock: SimClock, seed: number): Promise<SimResult> {
  const rnd: Random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const bucket = new InMemoryObjectStore(clock);
  const faulty = new FaultyObjectStore(bucket, clock, seededRandom(seed ^ 0x5eed), {
    latencyMs: [1, 8],
    errorRate: 0.03,
    throttleRate: 0.03,
    lostAckRate: 0.03,
    tornUploadRate: 0.02,
    outageRate: 0.01,
  });
  const config = {
    flushIntervalMs: pick([0, 5, 20]),
    walPutsInFlight: pick([1, 2, 4, 16]),
    memtableBytes: pick([600, 2000, 8000]),
    l0CompactionTrigger: pick([2, 3]),
    targetSstBytes: pick([500, 4000]),
    blockBytes: pick([128, 1024]),
    gcGraceMs: 300,
    compress: rnd() < 0.5,
    walSegmentObjects: pick([0, 2, 3, 8]),
  };
  let state = new Map<string, string>(); // the model: state every later writer must see
  let acked = 0;
  let sessions = 0;
  let valueSeq = 0;
  let fencedOutcomes = 0;
  let commitUnknown = 0;
  let faultOutcomes = 0;
  const trace: string[] = [];

  const debug = (...a: unknown[]) => {
    if (process.env.STORE_S3_SIM_DEBUG) console.log(`[${clock.now().toFixed(1)}]`, ...a);
  };
  const open = async (store: ObjectStore): Promise<S3Level<string, string>> => {
    for (let attempt = 0; ; attempt++) {
      const db = new S3Level<string, string>({
        store,
        clock,
        random: seededRandom(Math.floor(rnd() * 2 ** 31)),
        retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 50, windowMs: 0 },
        onBackgroundError: () => undefined,
        ...config,
      });
      try {
        debug('open', attempt);
        await db.open();
        debug('opened', db.epoch);
        return db;
      } catch (err) {
        debug('open failed', (err as Error).cause ?? err);
        if (attempt > 20) throw err;
        await clock.sleep(100);
      }
    }
  };

  /** Reads everything the new writer sees, with faults off so the check itself is exact. */
  const observe = async (db: S3Level<string, string>): Promise<Map<string, string>> => {
    faulty.enabled = false;
    try {
      const seen = new Map<string, string>(await db.iterator().all());
      // The point-read path must agree with the scan.
      for (const k of KEYS) {
        const v = await db.get(k);
        if (v !== seen.get(k)) throw new Error(`get(${k}) = ${v} but the scan saw ${seen.get(k)}`);
      }
      return seen;
    } finally {
      faulty.enabled = true;
    }
  };

  /**
   * Finds the prefix of `batches` that explains `seen`; it must hold every acked batch and no
   * batch rejected with an error that promises nothing was written.
   */
  const explain = (seen: Map<string, string>, batches: IssuedBatch[], what: string): Map<string, string> => {
    let lastAcked = -1;
    batches.forEach((b, i) => {
      if (b.acked) lastAcked = i;
    });
    const notWritten = batches.findIndex((b) => b.errorCode !== undefined && NOTHING_WRITTEN.has(b.errorCode));
    const longest = notWritten < 0 ? batches.length : notWritten;
    const s = new Map(state);
    for (let p = 0; p <= longest; p++) {
      if (p > lastAcked && sameState(s, seen)) return s;
      if (p < batches.length) for (const op of (batches[p] as IssuedBatch).ops) applyOp(s, op);
    }
    const want = new Map(state);
    for (const b of batches) if (b.acked) for (const op of b.ops) applyOp(want, op);
    throw new Error(
      `${what}: no prefix of the ${batches.length} batches (last acked #${lastAcked}, first surely unwritten #${notWritten}) explains the store: ` +
        `saw ${JSON.stringify([...seen])}, model after all acked batches ${JSON.stringify([...want])}`,
    );
  };

  let processStore = new ProcessStore(faulty);
  let legacy = 0;
  if (rnd() < 0.5) {
    // A store the previous release left behind: its writer (epoch 1) crashed after storing WAL
    // objects of format 2 (a value passed for two keys stored once, put-same) or 1. This release
    // must replay them all, under faults.
    faulty.enabled = false;
    await open(processStore); // epoch 1: its fence object in slot 1 resumes at 1 + WAL_WINDOW_MAX
    const from = 1 + WAL_WINDOW_MAX;
    processStore.dead = true; // crashed
    processStore = new ProcessStore(faulty);
    const version = pick([1, 2] as const);
    const objects = 1 + Math.floor(rnd() * 5);
    for (let o = 0; o < objects; o++) {
      const batches: WalBatch[] = [];
      for (let bi = 1 + Math.floor(rnd() * 3); bi > 0; bi--) {
        const batch: WalBatch = [];
        let shared: Buffer | undefined;
        for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
          const key = pick(KEYS);
          if (rnd() < 0.2) {
            batch.push({ type: 'del', key: Buffer.from(key) });
            state.delete(key);
            continue;
          }
          const value = shared && rnd() < 0.5 ? shared : Buffer.from(`v${valueSeq++}-legacy-${'y'.repeat(Math.floor(rnd() * 40))}`);
          shared = value;
          batch.push({ type: 'put', key: Buffer.from(key), value });
          state.set(key, value.toString());
        }
        batches.push(batch);
      }
      await bucket.put(walKey('', from + o), encodeLegacyWal(version, 1, batches));
      legacy++;
    }
    faulty.enabled = true;
  }
  let db = await open(processStore);
  // A follower polling all along, under the same faults: at each check it must read what the
  // writer of the moment reads.
  const follower = new S3Level<string, string>({
    store: faulty,
    readOnly: true,
    pollIntervalMs: pick([10, 40]),
    clock,
    random: seededRandom(Math.floor(rnd() * 2 ** 31)),
    retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 50, windowMs: 0 },
    onBackgroundError: () => undefined,
  });
  for (let attempt = 0; ; attempt++) {
    try {
      await follower.open();
      break;
    } catch (err) {
      if (attempt > 20) throw err;
      await clock.sleep(100);
    }
  }
  const checkFollower = async (want: Map<string, string>, what: string): Promise<void> => {
    faulty.enabled = false;
    try {
      // A poll under way may fail on a fault injected before: refresh again.
      for (let attempt = 0; ; attempt++) {
        try {
          await follower.refresh();
          await follower.refresh();
          break;
        } catch (err) {
          if (attempt > 3) throw err;
        }
      }
      const seen = new Map<string, string>(await follower.iterator().all());
      if (!sameState(seen, want)) throw new Error(`${what}: the follower reads ${JSON.stringify([...seen])}, the writer ${JSON.stringify([...want])}`);
      for (const k of KEYS) {
        const v = await follower.get(k);
        if (v !== want.get(k)) throw new Error(`${what}: follower get(${k}) = ${v}, the writer reads ${want.get(k)}`);
      }
    } finally {
      faulty.enabled = true;
    }
  };
  const initial = await observe(db);
  if (!sameState(initial, state)) {
    throw new Error(`seed ${seed}: the previous release's WAL did not replay: saw ${JSON.stringify([...initial])}, want ${JSON.stringify([...state])}`);
  }

  for (let round = 0; round < 6; round++) {
    sessions++;
    const batches: IssuedBatch[] = [];
    const ending = pick(['crash', 'crash', 'fence', 'close'] as const);
    let stop = false;
    const writer = db;
    const client = async (): Promise<void> => {
      while (!stop) {
        await clock.sleep(rnd() * 6);
        if (stop) return;
        const r = rnd();
        const ops: Op[] = [];
        if (r < 0.05) {
          const a = pick(KEYS);
          const b = pick(KEYS);
          ops.push({ type: 'clear', gte: a < b ? a : b, lt: a < b ? b : a }); // strings: Math.min/max would not do
        } else {
          const n = 1 + Math.floor(rnd() * 4);
          for (let i = 0; i < n; i++) {
            const key = pick(KEYS);
            const prev = ops[ops.length - 1];
            if (prev?.type === 'put' && rnd() < 0.3) {
              // A view of the previous value's bytes, as the event log writes a record's body.
              const from = Math.floor(rnd() * prev.value.length);
              ops.push({ type: 'put', key, value: prev.value.slice(from), sliceOf: from });
            } else ops.push(rnd() < 0.2 ? { type: 'del', key } : { type: 'put', key, value: `v${valueSeq++}-${'x'.repeat(Math.floor(rnd() * 60))}` });
          }
        }
        const durable = rnd() < 0.8;
        const issued: IssuedBatch = { ops, acked: false, settled: false };
        debug('issue', batches.length, durable, ops[0]?.type);
        batches.push(issued);
        let p: Promise<void>;
        try {
          if (ops[0]?.type === 'clear') {
            const c = ops[0];
            p = writer.clear({ gte: c.gte, lt: c.lt, sync: durable } as never);
          } else {
            let last: Uint8Array | undefined;
            const encoded = ops.map((o) => {
              if (o.type !== 'put') return { type: 'del' as const, key: (o as { key: string }).key };
              last = o.sliceOf === undefined ? Buffer.from(o.value) : (last as Uint8Array).subarray(o.sliceOf);
              return { type: 'put' as const, key: o.key, value: last, valueEncoding: 'view' };
            });
            p = writer.batch(encoded as never, { sync: durable } as never);
          }
          await p;
          debug('acked', batches.indexOf(issued));
          issued.acked = durable;
          if (durable) acked++;
        } catch (err) {
          issued.settled = true;
          issued.errorCode = (err as { code?: string }).code;
          if (issued.errorCode === 'STRAND_COMMIT_UNKNOWN') commitUnknown++;
          return; // this writer is broken (crashed, fenced or failed): the client stops
        }
        issued.settled = true;
      }
    };
    debug('round', round, ending);
    const clients = [client(), client(), client()];
    await clock.sleep(20 + rnd() * 400);
    const old = db;
    const oldStore = processStore;
    if (ending === 'crash') {
      oldStore.dead = true;
      stop = true;
      await Promise.all(clients);
      processStore = new ProcessStore(faulty);
      db = await open(processStore);
    } else if (ending === 'fence') {
      // A second writer opens while the first still writes: the first must be fenced.
      processStore = new ProcessStore(faulty);
      db = await open(processStore);
      await clock.sleep(50);
      stop = true;
      debug('waiting for old clients', batches.filter((b) => !b.settled).length);
      if (process.env.STORE_S3_SIM_DEBUG) {
        const sym = Object.getOwnPropertySymbols(old).find((x) => x.description === 'engine') as symbol;
        const e = (old as unknown as Record<symbol, Record<string, unknown>>)[sym] as Record<string, unknown>;
        debug('old engine', {
          buf: (e.buf as unknown[]).length,
          waiters: (e.bufWaiters as unknown[]).length,
          inFlight: e.walInFlight !== undefined,
          timerArmed: e.timerArmed,
          flushDue: e.flushDue,
          fenced: !!e.fenced,
          failed: !!e.failed,
          stall: (e.stallWaiters as unknown[]).length,
          l0: (e.l0 as unknown[]).length,
          imm: (e.imm as unknown[]).length,
          flushTask: !!e.flushTask,
          compactTask: !!e.compactTask,
          compactBackoff: e.compactBackoff,
          flushBackoff: e.flushBackoff,
        });
      }
      await Promise.all(clients);
      debug('old clients done');
      // The precise outcome: STRAND_FENCED, unless this writer had already stopped on an
      // injected fault (a torn upload of its own, or retries used up), which it reports as
      // STRAND_S3_UNAVAILABLE with that fault as the reason. Never an acknowledgement.
      const late = await old.put('late', 'write', { sync: true } as never).then(
        () => undefined,
        (err: unknown) => err as { code?: string; message?: string; cause?: unknown },
      );
      if (late === undefined) throw new Error('a fenced writer acknowledged a write');
      if (late.code === 'STRAND_FENCED') fencedOutcomes++;
      else if (late.code === 'STRAND_S3_UNAVAILABLE' && stoppedByInjectedFault(late)) faultOutcomes++;
      else throw new Error(`a fenced writer failed with ${late.code}: ${late.message}`);
      oldStore.dead = true;
    } else {
      stop = true;
      await Promise.all(clients);
      await old.close().catch(() => undefined);
      oldStore.dead = true;
      processStore = new ProcessStore(faulty);
      db = await open(processStore);
    }
    debug('observe');
    const seen = await observe(db);
    debug('explain');
    state = explain(seen, batches, `seed ${seed} round ${round} (${ending}, ${config.flushIntervalMs} ms)`);
    await checkFollower(seen, `seed ${seed} round ${round}`);
    trace.push(`${round}:${ending}:${batches.length}:${batches.filter((b) => b.acked).length}:${seen.size}:${clock.now()}`);
    if (rnd() < 0.5) {
      faulty.enabled = false;
      await db.compact().catch(() => undefined);
      faulty.enabled = true;
    }
  }
  await db.close().catch(() => undefined);
  await follower.close().catch(() => undefined);
  trace.push(bucket.keys().join(','));
  debug('done', { acked, sessions, faults: faulty.injected, objects: bucket.keys().length });
  return { trace: trace.join('\n'), sessions, acked, faults: { ...faulty.injected }, fencedOutcomes, faultOutcomes, commitUnknown, legacy };
}

async function runSeed(seed: number): Promise<SimResult> {
  try {
    return await simulate(seed);
  } catch (err) {
    throw new Error(`simulation failed with seed ${seed} (replay: STORE_S3_SIM_SEED=${seed}): ${(err as Error).stack ?? String(err)}`);
  }
}

describe('deterministic simulation', () => {
  const only = process.env.STORE_S3_SIM_SEED;
  const count = Number(process.env.STORE_S3_SIM_SEEDS ?? 60);
  const from = Number(process.env.STORE_S3_SIM_FROM ?? 1000);
  const seeds = only ? [Number(only)] : Array.from({ length: count }, (_, i) => from + i);

  it(`keeps every acknowledged write and never shows part of a batch (${seeds.length} seeds)`, async () => {
    let acked = 0;
    let fenced = 0;
    let unknown = 0;
    let legacy = 0;
    const faults: Record<string, number> = {};
    for (const seed of seeds) {
      const r = await runSeed(seed);
      acked += r.acked;
      fenced += r.fencedOutcomes;
      unknown += r.commitUnknown;
      legacy += r.legacy;
      for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
    }
    // The runs must actually exercise something.
    expect(acked).toBeGreaterThan(seeds.length * 10);
    expect(faults.torn).toBeGreaterThan(0);
    expect(faults.lostAck).toBeGreaterThan(0);
    if (!only) {
      expect(fenced).toBeGreaterThan(0); // fence rounds ran and were reported as such
      expect(unknown).toBeGreaterThan(0); // and writes of unknown outcome, checked like unacknowledged ones
      expect(faults.outage).toBeGreaterThan(0);
      expect(legacy).toBeGreaterThan(0); // stores of the previous WAL formats were replayed
    }
  }, 150_000 + seeds.length * 2_000);

  it('same seed, same run', async () => {
    const a = await runSeed(4242);
    const b = await runSeed(4242);
    expect(a.trace).toBe(b.trace);
  }, 60_000);
});
