/**
 * Child process of the follower test: opens the event log on a read-only S3Level (a follower) and
 * prints `ready`, then one JSON line per event its subscription delivers: `{"p": position, "t": ms}`.
 * It records how long each of the follower's requests took and how late its event loop ran; a
 * `stats` line on stdin makes it print them (`{"stats": {"requestMs": [...], "delayMaxMs", "delayP99Ms"}}`),
 * the terms of the staleness bound measured in the same run (docs/design/0005, "Followers").
 *
 *   node --import tsx follower-child.ts '<RgwEnv JSON>' <prefix> <pollIntervalMs>
 *
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { EventLog } from '@strand/core';
import { S3Level } from '@strand/store-s3';
import { LatencyRecordingStore, type RgwEnv, rgwStore } from '@strand/store-s3/testing';

const [envJson, prefix, poll] = process.argv.slice(2);
if (!envJson || !prefix || !poll) throw new Error('usage: follower-child.ts <env JSON> <prefix> <pollIntervalMs>');
const timed = new LatencyRecordingStore(rgwStore(JSON.parse(envJson) as RgwEnv));
const store = new S3Level({
  store: timed,
  prefix,
  readOnly: true,
  pollIntervalMs: Number(poll),
  keyEncoding: 'view',
  valueEncoding: 'view',
} as never);
const log = await EventLog.open({ store, ownsStore: true });
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
for (const kind of Object.values(timed.latencies)) kind.length = 0; // the open's requests are not polls
log.subscribe('>', { from: 1 }).subscribe({
  next: (e) => process.stdout.write(`${JSON.stringify({ p: e.position, t: Date.now() })}\n`),
  error: (err) => {
    process.stderr.write(`subscription failed: ${(err as Error).stack}\n`);
    process.exit(2);
  },
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'stats') return;
  const stats = {
    requestMs: [...timed.latencies.get, ...timed.latencies.list],
    delayMaxMs: delay.max / 1e6,
    delayP99Ms: delay.percentile(99) / 1e6,
  };
  process.stdout.write(`${JSON.stringify({ stats })}\n`);
});
// The follower's poll timer is unref'd (it never keeps a process alive): this one does, until
// the parent kills the child.
setInterval(() => undefined, 60_000);
process.stdout.write('ready\n');
