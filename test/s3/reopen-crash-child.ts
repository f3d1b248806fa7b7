/**
 * Child process of the S3 reopen crash test: appends to an event log on S3Level (the test RGW,
 * `s3LogDefaults`) with 16 concurrent durable appenders and prints one JSON line per
 * acknowledged append, until it is killed. Nothing is flushed or closed: whatever the writer's
 * memtable held when the SIGKILL came is pending in the WAL for the next writer to replay.
 *
 * Usage: node --import tsx --conditions strand-source reopen-crash-child.ts '<RgwEnv JSON>' <prefix> <seed> '<S3Level options JSON>'
 *
 * @module
 */
import { EventLog } from '@strand/core';
import { S3Level, s3LogDefaults } from '@strand/store-s3';
import { type RgwEnv, rgwStore } from '@strand/store-s3/testing';
import { appendUntilKilled, seededInts } from '../support/child.js';

const [envJson, prefix, seedArg, optionsJson] = process.argv.slice(2);
if (!envJson || !prefix || !seedArg) throw new Error('usage: reopen-crash-child.ts <env JSON> <prefix> <seed> [<options JSON>]');
// The load pattern replays from the seed (the kill moment does not, by nature).
const rand = seededInts(Number(seedArg));
const level = new S3Level({
  store: rgwStore(JSON.parse(envJson) as RgwEnv),
  prefix,
  keyEncoding: 'view',
  valueEncoding: 'view',
  ...(JSON.parse(optionsJson ?? '{}') as object),
} as never);
const log = await EventLog.open({ ...s3LogDefaults, store: level, ownsStore: true });
await appendUntilKilled(log.position, async (id, w) => {
  const stream = `crash/s-${rand(40)}`;
  const count = 1 + rand(3);
  const events = Array.from({ length: count }, (_, i) => ({ type: 'Tick', id: `${id}-${i}`, data: { w, i, pad: 'x'.repeat(rand(200)) }, metadata: { append: id, total: count } }));
  const r = await log.append(stream, events);
  return { append: id, stream: r.stream, version: r.version, position: r.position, count: r.events.length };
});
