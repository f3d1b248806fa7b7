/**
 * store-s3 figures of issue 23 (faults and time), against the local Ceph RGW: how long a writer
 * takes to reopen after a crash, per 10,000 events it must replay, beside the same workload with
 * replay unbounded (the engine before `walReplayMaxObjects`); and how stale a follower's
 * subscription is behind the writer's acknowledgements, beside the documented bound (one poll
 * interval plus one GET, the GET measured in the same run).
 *
 * @module
 */
import { EventLog } from '@strand/core';
import { S3Level, s3LogDefaults } from '@strand/store-s3';
import { ensureRgw, type RgwEnv, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
import { type BenchContext, type BenchSection, type Figure, median, payload, percentile, pool, timeMs } from './figure.js';

const POLL_MS = 100;

function level(env: RgwEnv, prefix: string, walReplayMaxObjects?: number): S3Level {
  return new S3Level({
    store: rgwStore(env),
    prefix,
    flushIntervalMs: 0,
    ...(walReplayMaxObjects === undefined ? {} : { walReplayMaxObjects }),
    keyEncoding: 'view',
    valueEncoding: 'view',
  } as never);
}

/**
 * Appends `events` (8 in flight: many small WAL objects, the worst case for replay), abandons the
 * writer as a crash would (no close, no final flush), and times opening the next writer's log.
 */
async function reopenMs(env: RgwEnv, events: number, walReplayMaxObjects: number | undefined): Promise<number> {
  const prefix = uniquePrefix('reopen');
  const crashed = await EventLog.open({ ...s3LogDefaults, store: level(env, prefix, walReplayMaxObjects), ownsStore: true });
  await pool(events, 8, (i) => crashed.append(`orders/r-${i % 500}`, [{ type: 'Placed', data: payload(i) }]));
  let next: EventLog | undefined;
  const ms = await timeMs(async () => {
    next = await EventLog.open({ ...s3LogDefaults, store: level(env, prefix, walReplayMaxObjects), ownsStore: true });
  });
  if (next?.position !== events) throw new Error(`reopen saw position ${next?.position}, expected ${events}`);
  await next.close();
  await crashed.close().catch(() => undefined); // fenced by `next`
  return ms;
}

/**
 * A writer under load (16 appenders) and a follower's subscription in this process (its own S3
 * client, polling every POLL_MS): per event, the time from the writer's acknowledgement to the
 * follower's delivery. Also the median GET of a small object, for the documented bound.
 */
async function staleness(env: RgwEnv, events: number): Promise<{ values: number[]; getMs: number }> {
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
  await pool(events, 16, async (i) => {
    const r = await writer.append(`orders/s-${i % 200}`, [{ type: 'Placed', data: payload(i) }]);
    acked.set(r.position, performance.now());
  });
  // A ref'd timer: the follower's poll timer is unref'd, and something must keep the process up.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`follower saw ${seen.size} of ${events + 1} events in 120 s`)), 120_000);
  });
  await Promise.race([all, deadline]).finally(() => clearTimeout(timer));
  sub.unsubscribe();
  const store = rgwStore(env);
  const [walKey] = (await store.list(`${prefix}wal/`, { limit: 1 })).map((o) => o.key);
  const gets: number[] = [];
  for (let i = 0; i < 20; i++) gets.push(await timeMs(() => store.get(walKey as string)));
  store.destroy();
  await follower.close();
  await writer.close();
  return { values: [...acked].map(([p, t]) => (seen.get(p) as number) - t), getMs: median(gets) };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const env = await ensureRgw();
  const events = Math.max(2000, Math.round(10_000 * ctx.scale));
  const per10k = (ms: number) => (ms * 10_000) / events;
  const bounded: number[] = [];
  const unbounded: number[] = [];
  for (let r = 0; r < Math.max(1, Math.min(ctx.runs, 3)); r++) {
    ctx.log(`reopen after a crash, run ${r + 1}...`);
    bounded.push(per10k(await reopenMs(env, events, undefined)));
    unbounded.push(per10k(await reopenMs(env, events, 1_000_000)));
  }
  ctx.log('follower staleness...');
  const stale = await staleness(env, Math.max(500, Math.round(2000 * ctx.scale)));
  return [
    {
      id: 's3.follower.staleness_p99_ms',
      value: percentile(stale.values, 99),
      unit: 'ms',
      reference: { name: `documented bound: poll interval (${POLL_MS} ms) + one GET (median, same run)`, value: POLL_MS + stale.getMs },
      note: `${stale.values.length} events, 16 appenders on the writer; a follower's subscription in the same process (own S3 client); p50 ${Math.round(percentile(stale.values, 50))} ms`,
    },
    {
      id: 's3.reopen.ms_per_10k_pending',
      value: median(bounded),
      unit: 'ms',
      reference: { name: 'same workload, replay unbounded (walReplayMaxObjects 1,000,000), same run', value: median(unbounded) },
      note: `open of the next writer's log after ${events} appends (8 in flight, small WAL objects) and a crash, per 10,000 events appended; default walReplayMaxObjects 512; runs ${bounded.map((v) => Math.round(v)).join(', ')} vs ${unbounded.map((v) => Math.round(v)).join(', ')}`,
    },
  ];
}

/** The s3-faults section. */
export const s3Faults: BenchSection = { name: 's3-faults', run };
