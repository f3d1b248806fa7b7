/**
 * store-s3 figures of issue 23 (faults and time), against the local Ceph RGW: how long a writer
 * takes to reopen after a crash, per 10,000 events appended before it, beside the same workload
 * without WAL segments (`walSegmentObjects: 0`: a GET per WAL object, the engine before them);
 * and how stale a follower's subscription is behind the writer's acknowledgements, beside the
 * documented bound (docs/design/0005, "Followers"), its terms measured on the follower in the
 * same run.
 *
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EventLog } from '@strand/core';
import { S3Level, s3LogDefaults } from '@strand/store-s3';
import { ensureRgw, followerStalenessBound, LatencyRecordingStore, type RgwEnv, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
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
async function reopenMs(env: RgwEnv, events: number, walSegmentObjects: number | undefined): Promise<{ ms: number; gets: number; replayed: number }> {
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
  const replayed = store.engineStats?.walReplayed ?? 0;
  await next.close();
  await crashed.close().catch(() => undefined); // fenced by `next`
  return { ms, gets, replayed };
}

/** Times opening a new log in an empty prefix: the fixed costs of an open, nothing to replay. */
async function emptyOpenMs(env: RgwEnv): Promise<number> {
  let log: EventLog | undefined;
  const ms = await timeMs(async () => {
    log = await EventLog.open({ ...s3LogDefaults, store: level(env, uniquePrefix('reopen-empty')), ownsStore: true });
  });
  await log?.close();
  return ms;
}

/**
 * A writer under load (16 appenders) and a follower's subscription in this process (its own S3
 * client, polling every POLL_MS): per event, the time from the writer's acknowledgement to the
 * follower's delivery. Also the terms of the documented bound measured on the follower itself
 * during the same load: how long its requests (GETs of WAL slots, LISTs of manifests) took, and
 * how late this process's event loop ran.
 */
async function staleness(env: RgwEnv, events: number): Promise<{ values: number[]; requestMs: number[]; delayP99Ms: number }> {
  const prefix = uniquePrefix('staleness');
  const writer = await EventLog.open({ ...s3LogDefaults, store: level(env, prefix), ownsStore: true });
  await writer.append('orders/s-0', [{ type: 'Placed', data: payload(0) }]);
  const timed = new LatencyRecordingStore(rgwStore(env));
  const follower = await EventLog.open({
    store: new S3Level({ store: timed, prefix, readOnly: true, pollIntervalMs: POLL_MS, keyEncoding: 'view', valueEncoding: 'view' } as never),
    ownsStore: true,
  });
  for (const kind of Object.values(timed.latencies)) kind.length = 0; // the open's requests are not polls
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
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
  delay.disable();
  sub.unsubscribe();
  await follower.close();
  await writer.close();
  return {
    values: [...acked].map(([p, t]) => (seen.get(p) as number) - t),
    requestMs: [...timed.latencies.get, ...timed.latencies.list],
    delayP99Ms: delay.percentile(99) / 1e6,
  };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const env = await ensureRgw();
  const events = Math.max(2000, Math.round(10_000 * ctx.scale));
  const per10k = (ms: number) => (ms * 10_000) / events;
  const segmented: number[] = [];
  const plain: number[] = [];
  const gets = { segmented: 0, plain: 0 };
  let replayed = 0;
  const empty: number[] = [];
  for (let r = 0; r < Math.max(1, Math.min(ctx.runs, 3)); r++) {
    ctx.log(`reopen after a crash, run ${r + 1}...`);
    const a = await reopenMs(env, events, undefined);
    const b = await reopenMs(env, events, 0);
    segmented.push(per10k(a.ms));
    plain.push(per10k(b.ms));
    gets.segmented = a.gets;
    gets.plain = b.gets;
    replayed = a.replayed;
    empty.push(await emptyOpenMs(env));
  }
  ctx.log('follower staleness...');
  const stale = await staleness(env, Math.max(500, Math.round(2000 * ctx.scale)));
  const requestP99 = percentile(stale.requestMs, 99);
  const bound = followerStalenessBound({ pollIntervalMs: POLL_MS, requestMs: requestP99, delayMs: stale.delayP99Ms });
  return [
    {
      id: 's3.follower.staleness_p99_ms',
      value: percentile(stale.values, 99),
      unit: 'ms',
      reference: {
        name: `documented bound (docs/design/0005, "Followers"): max(poll ${POLL_MS} ms, request) + request + 2 x event-loop delay, each at its p99 on the follower under the same load (same run)`,
        value: bound,
      },
      note: `${stale.values.length} events, 16 appenders on the writer; a follower's subscription in the same process (own S3 client); staleness p50 ${Math.round(percentile(stale.values, 50))} ms, max ${Math.round(Math.max(...stale.values))} ms; the follower's ${stale.requestMs.length} requests p50 ${Math.round(percentile(stale.requestMs, 50))} ms, p99 ${Math.round(requestP99)} ms; event-loop delay p99 ${Math.round(stale.delayP99Ms)} ms`,
    },
    {
      id: 's3.reopen.ms_per_10k_pending',
      value: median(segmented),
      unit: 'ms',
      reference: { name: 'same workload without WAL segments (walSegmentObjects 0: a GET per WAL object), same run', value: median(plain) },
      note: `open of the next writer's log after ${events} appends (8 in flight, small WAL objects) and a crash, per 10,000 events appended; defaults (walReplayMaxObjects 512, walSegmentObjects 32); the last open replayed ${replayed} WAL objects with ${gets.segmented} GETs (without segments ${gets.plain}); runs ${segmented.map((v) => Math.round(v)).join(', ')} vs ${plain.map((v) => Math.round(v)).join(', ')}; the open of an empty log (fixed costs: fence, LISTs, claim, the log's format record) ${Math.round(median(empty))} ms`,
    },
  ];
}

/** The s3-faults section. */
export const s3Faults: BenchSection = { name: 's3-faults', run };
