/**
 * Child process of the follower test: opens the event log on a read-only S3Level (a follower) and
 * prints `ready`, then one JSON line per event its subscription delivers: `{"p": position, "t": ms}`.
 *
 *   node --import tsx follower-child.ts '<RgwEnv JSON>' <prefix> <pollIntervalMs>
 *
 * @module
 */
import { EventLog } from '@strand/core';
import { S3Level } from '@strand/store-s3';
import { type RgwEnv, rgwStore } from '@strand/store-s3/testing';

const [envJson, prefix, poll] = process.argv.slice(2);
if (!envJson || !prefix || !poll) throw new Error('usage: follower-child.ts <env JSON> <prefix> <pollIntervalMs>');
const store = new S3Level({
  store: rgwStore(JSON.parse(envJson) as RgwEnv),
  prefix,
  readOnly: true,
  pollIntervalMs: Number(poll),
  keyEncoding: 'view',
  valueEncoding: 'view',
} as never);
const log = await EventLog.open({ store, ownsStore: true });
log.subscribe('>', { from: 1 }).subscribe({
  next: (e) => process.stdout.write(`${JSON.stringify({ p: e.position, t: Date.now() })}\n`),
  error: (err) => {
    process.stderr.write(`subscription failed: ${(err as Error).stack}\n`);
    process.exit(2);
  },
});
// The follower's poll timer is unref'd (it never keeps a process alive): this one does, until
// the parent kills the child.
setInterval(() => undefined, 60_000);
process.stdout.write('ready\n');
