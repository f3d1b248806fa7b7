/**
 * store-s3 figures of issue 23 (faults and time), against the local Ceph RGW: how long a writer
 * takes to reopen after a crash, per 10,000 events appended before it, beside the same workload
 * without WAL segments (`walSegmentObjects: 0`: a GET per WAL object, the engine before them);
 * and how stale a follower's subscription is behind the writer's acknowledgements, beside the
 * documented bound (one poll interval plus one GET, the GET measured in the same run).
 *
 * @module
 */
import { EventLog } from '@strand/core';
import { S3Level, s3LogDefaults } from '@strand/store-s3';
import { ensureRgw, type RgwEnv, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
import { type BenchContext, type BenchSection, type Figure, median, payload, percentile, pool, timeMs } from './figure.js';

const POLL_MS = 100;

function level(env: RgwEnv, prefix: string, walSegmentObjects?: number): S3Level {
  return new S3Level({
    store: rgwStore(env),
    prefix,
    flushIntervalMs: 0,
    ...(walSegmentObjects === undefined ? {} : { walSegmentObjects }),
    keyEncoding: 'view',
    valueEncoding: 'view',
  } as never);
}

/**
 * Appends `events` (8 in flight: many small WAL objects, the worst case for replay), abandons the
 * writer as a crash would (no close, no final flush), and times opening the next writer's log.
 */
async function reopenMs(env: RgwEnv, events: number, walSegmentObjects: number | undefined): Promise<{ ms: number; gets: number }> {
  const prefix = uniquePrefix('reopen');
  const crashed = await EventLog.open({ ...s3LogDefaults, store: level(env, prefix, walSegmentObjects), ownsStore: true });
  await pool(events, 8, (i) => crashed.append(`orders/r-${i % 500}`, [{ type: 'Placed', data: payload(i) }]));
  let next: EventLog | undefined;
  const store = level(env, prefix, walSegmentObjects);
  const ms = await timeMs(async () => {
    next = await EventLog.open({ ...s3LogDefaults, store, ownsStore: true });
  });
  if (next?.position !== events) throw new Error(`reopen saw position ${next?.position}, expected ${events}`);
  const gets = store.requests.get;
  await next.close();
  await crashed.close().catch(() => undefined); // fenced by `next`
  return { ms, gets };
}

/**
 * A writer under load (16 appenders) and a follower's subscription in this process (its own S3
 * client, polling every POLL_MS): per event, the time from the writer's acknowledgement to the
 * follower's delivery. Also GETs of a small WAL object sampled during the same load (every 50 ms,
 * own S3 client), for the documented bound: a GET under load is not an idle GET.
 */
async function staleness(env: RgwEnv, events: number): Promise<{ values: number[]; getMs: number; getP99Ms: number }> {
  const prefix = uniquePrefix('staleness');
  const writer = await EventLog.open({ ...s3LogDefaults, store: level(env, prefix), ownsStore: true });
  await writer.append('orders/s-0', [{ type: 'Placed', data: payload(0) }]);
  const follower = await EventLog.open({
    store: new S3Level({ store: rgwStore(env), prefix, readOnly: true, pollIntervalMs: POLL_MS, keyEncoding: 'view', valueEncoding: 'view' } as never),
    ownsStore: true,
  });
  const seen = new Map<number, number>();
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const sub = follower.subscribe('>', { from: 1 }).subscribe((e) => {
    seen.set(e.position, performance.now());
    if (seen.size >= events + 1) done();
  });
  const acked = new Map<number, number>();
  const probe = rgwStore(env);
  const [walKey] = (await probe.list(`${prefix}wal/`, { limit: 1 })).map((o) => o.key);
  const gets: number[] = [];
  let loading = true;
  const sampler = (async () => {
    while (loading) {
      gets.push(await timeMs(() => probe.get(walKey as string)));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await pool(events, 16, async (i) => {
    const r = await writer.append(`orders/s-${i % 200}`, [{ type: 'Placed', data: payload(i) }]);
    acked.set(r.position, performance.now());
  });
  loading = false;
  await sampler;
  probe.destroy();
  // A ref'd timer: the follower's poll timer is unref'd, and something must keep the process up.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`follower saw ${seen.size} of ${events + 1} events in 120 s`)), 120_000);
  });
  await Promise.race([all, deadline]).finally(() => clearTimeout(timer));
  sub.unsubscribe();
  await follower.close();
  await writer.close();
  return { values: [...acked].map(([p, t]) => (seen.get(p) as number) - t), getMs: median(gets), getP99Ms: percentile(gets, 99) };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const env = await ensureRgw();
  const events = Math.max(2000, Math.round(10_000 * ctx.scale));
  const per10k = (ms: number) => (ms * 10_000) / events;
  const segmented: number[] = [];
  const plain: number[] = [];
  const gets = { segmented: 0, plain: 0 };
  for (let r = 0; r < Math.max(1, Math.min(ctx.runs, 3)); r++) {
    ctx.log(`reopen after a crash, run ${r + 1}...`);
    const a = await reopenMs(env, events, undefined);
    const b = await reopenMs(env, events, 0);
    segmented.push(per10k(a.ms));
    plain.push(per10k(b.ms));
    gets.segmented = a.gets;
    gets.plain = b.gets;
  }
  ctx.log('follower staleness...');
  const stale = await staleness(env, Math.max(500, Math.round(2000 * ctx.scale)));
  return [
    {
      id: 's3.follower.staleness_p99_ms',
      value: percentile(stale.values, 99),
      unit: 'ms',
      reference: { name: `documented bound: poll interval (${POLL_MS} ms) + one GET at p99 under the same load (same run)`, value: POLL_MS + stale.getP99Ms },
      note: `${stale.values.length} events, 16 appenders on the writer; a follower's subscription in the same process (own S3 client); staleness p50 ${Math.round(percentile(stale.values, 50))} ms; GET under that load p50 ${Math.round(stale.getMs)} ms, p99 ${Math.round(stale.getP99Ms)} ms (${POLL_MS} ms + p50 GET: ${Math.round(POLL_MS + stale.getMs)} ms)`,
    },
    {
      id: 's3.reopen.ms_per_10k_pending',
      value: median(segmented),
      unit: 'ms',
      reference: { name: 'same workload without WAL segments (walSegmentObjects 0: a GET per WAL object), same run', value: median(plain) },
      note: `open of the next writer's log after ${events} appends (8 in flight, small WAL objects) and a crash, per 10,000 events appended; defaults (walReplayMaxObjects 512, walSegmentObjects 32); GETs of the last open ${gets.segmented} vs ${gets.plain}; runs ${segmented.map((v) => Math.round(v)).join(', ')} vs ${plain.map((v) => Math.round(v)).join(', ')}`,
    },
  ];
}

/** The s3-faults section. */
export const s3Faults: BenchSection = { name: 's3-faults', run };
