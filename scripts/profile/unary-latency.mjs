// Sequential appends through a server and a client in this one process, over a memory log, so the
// figure is the CPU the round trip costs rather than fsync or a second process's time slice: the
// lean unary path on both sides, against connect-es on both sides (a client with
// `compression: true` sends through connect-es and the server, seeing `accept-encoding`, answers
// through connect-es), beside the in-process append, round-robin so a shared machine's load falls
// on all three alike. `--cpu-prof` on the node command line profiles it.
//
//   npm run build && node scripts/profile/unary-latency.mjs [--calls 3000] [--rounds 3]
//
// Findings: docs/design/0013-server.md, "The lean unary path" and "Unary latency".
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { MemoryLevel } from 'memory-level';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' } } });
const calls = Number(values.calls);
const load = (p) => import(pathToFileURL(resolve(p)).href);
const { EventLog } = await load('packages/core/dist/index.js');
const { createServer } = await load('packages/server/dist/index.js');
const { connect } = await load('packages/client/dist/index.js');

const log = await EventLog.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
const server = createServer({ log });
const url = await server.listen();
const p50 = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];

async function time(append) {
  for (let i = 0; i < 200; i++) await append(`warm/${i % 10}`, i);
  const lat = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await append(`s/${i % 100}`, i);
    lat.push(performance.now() - t);
  }
  return p50(lat);
}

async function remote(compression) {
  const c = connect({ url, apiKey: server.apiKey, compression });
  try {
    return await time((stream, i) => c.append(stream, [{ type: 'E', data: { i } }]));
  } finally {
    await c.close();
  }
}

const rows = [];
for (let r = 0; r < Number(values.rounds); r++) {
  const lean = await remote(false);
  const es = await remote(true);
  const local = await time((stream, i) => log.append(`l/${stream}`, [{ type: 'E', data: { i } }]));
  rows.push({ lean, es, local });
  console.log(`round ${r + 1}: lean p50 ${lean.toFixed(3)} ms, connect-es p50 ${es.toFixed(3)} ms, in-process ${local.toFixed(3)} ms`);
}
const med = (k) => p50(rows.map((x) => x[k]));
console.log(
  `median: lean ${med('lean').toFixed(3)} ms (${(med('lean') / med('local')).toFixed(1)}x in-process), connect-es ${med('es').toFixed(3)} ms (${(med('es') / med('local')).toFixed(1)}x), connect-es / lean ${(med('es') / med('lean')).toFixed(2)}`,
);
await server.close();
await log.close();
