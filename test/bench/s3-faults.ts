/**
 * store-s3 figures of issue 23 (faults and time), against the local Ceph RGW: how long a writer
 * takes to reopen after a crash, per 10,000 events it must replay, beside the same workload with
 * replay unbounded (the engine before `walReplayMaxObjects`), measured in the same run.
 *
 * @module
 */
import { EventLog } from '@strand/core';
import { S3Level, s3LogDefaults } from '@strand/store-s3';
import { ensureRgw, type RgwEnv, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
import { type BenchContext, type BenchSection, type Figure, median, payload, pool, timeMs } from './figure.js';

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
  return [
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
