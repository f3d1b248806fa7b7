/**
 * Child process of the crash test: appends to a LevelDB log under concurrent load with durable
 * writes and prints one JSON line per acknowledged append, until it is killed.
 *
 * Usage: node --import tsx --conditions strand-source crash-writer.ts <dir> <seed>
 */
import { openLog } from '@strand/core';
import { appendUntilKilled, seededInts } from '../support/child.js';

const [dir, seedArg] = process.argv.slice(2);
if (!dir || !seedArg) throw new Error('usage: crash-writer.ts <dir> <seed>');
// The load pattern replays from the seed (the kill moment does not, by nature).
const rand = seededInts(Number(seedArg));

const log = await openLog({ path: dir });
await appendUntilKilled(log.position, async (id, w) => {
  const parts = rand(4) === 0 ? 2 : 1;
  const chosen = new Set<string>();
  while (chosen.size < parts) chosen.add(`crash/s-${rand(40)}`);
  const streams = [...chosen].map((stream, p) => {
    const count = 1 + rand(3);
    return { stream, events: Array.from({ length: count }, (_, i) => ({ type: 'Tick', id: `${id}-${p}-${i}`, data: { w, i, pad: 'x'.repeat(rand(300)) }, metadata: { append: id, total: 0 } })) };
  });
  const total = streams.reduce((n, s) => n + s.events.length, 0);
  for (const s of streams) for (const e of s.events) e.metadata.total = total;
  if (streams.length === 1) {
    const r = await log.append(streams[0]!.stream, streams[0]!.events);
    return { append: id, parts: [{ stream: r.stream, version: r.version, position: r.position, count: r.events.length }] };
  }
  const r = await log.appendMulti(streams);
  return { append: id, parts: r.results.map((x) => ({ stream: x.stream, version: x.version, position: x.position, count: x.events.length })) };
});
