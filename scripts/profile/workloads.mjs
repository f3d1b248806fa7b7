// Profiles one of the bench's workloads with the V8 CPU profiler, measuring only the workload
// (not its setup), and prints where the time per event goes (self time by function and by module).
//
//   npm run build && node scripts/profile/workloads.mjs w1|w2|w3|w4|projection|aggregate [--out DIR] [--scale 0.25]
//
// W1..W4 are test/bench/core.ts's workloads, `projection` is the counting projection's catch-up
// (test/bench/projections.ts), `aggregate` the command workload (test/bench/aggregate.ts).
// The .cpuprofile is written to DIR (default: a temporary directory) for a flame graph (e.g.
// speedscope or Chrome DevTools). Findings: docs/design/0010-cpu-per-event.md.
import { Session } from 'node:inspector/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openLog } from '@strand/core';
import { defineProjection, ProjectionRunner } from '@strand/projections';
import { AggregateRepository } from '@strand/aggregate';
// The bench's own payload, pool and aggregate (built by npm run build), so the profile runs the same work.
import { Counter } from '../../test/dist/bench/aggregate.js';
import { payload, pool } from '../../test/dist/bench/figure.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' }, scale: { type: 'string', default: '1' }, top: { type: 'string', default: '25' } } });
const which = positionals[0];
const scale = Number(values.scale);
const root = await mkdtemp(join(tmpdir(), 'strand-profile-'));
let dirs = 0;
const dir = () => join(root, `d${dirs++}`);

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });

/** Runs `fn` under the profiler; returns [elapsed ms, profile]. */
async function profiled(fn) {
  await session.post('Profiler.start');
  const t0 = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const { profile } = await session.post('Profiler.stop');
  return [ms, profile];
}

async function readsFixture(total) {
  const log = await openLog({ path: dir(), durability: 'buffered' });
  for (let v = 0; v < 10_000; v += 500) await log.append('acct/big', Array.from({ length: 500 }, (_, k) => ({ type: 'Deposited', data: { amount: v + k, note: payload(v + k).note } })));
  for (let i = 10_000; i < total; i += 500) await log.append(`acct/other-${i % 997}`, Array.from({ length: 500 }, (_, k) => ({ type: 'Deposited', data: { amount: i + k, note: payload(i + k).note } })));
  return log;
}

const workloads = {
  async w1() {
    const n = Math.round(4000 * scale);
    const log = await openLog({ path: dir() });
    const versions = new Array(200).fill(0);
    const r = await profiled(async () => {
      for (let i = 0; i < n; i++) {
        const s = i % 200;
        await log.append(`acct/s-${s}`, [{ type: 'Deposited', data: payload(i) }], { expectedVersion: versions[s] });
        versions[s]++;
      }
    });
    await log.close();
    return [n, ...r];
  },
  async w2() {
    const n = Math.round(20_000 * scale);
    const log = await openLog({ path: dir() });
    const r = await profiled(() => pool(n, 64, (i) => log.append(`acct/s-${(i % 64) + 64 * (Math.floor(i / 64) % 31)}`, [{ type: 'Deposited', data: payload(i) }])));
    await log.close();
    return [n, ...r];
  },
  async w3() {
    const log = await readsFixture(10_000);
    const rounds = 20;
    const r = await profiled(async () => {
      for (let k = 0; k < rounds; k++) {
        let sum = 0;
        for await (const e of log.readStream('acct/big')) sum += e.data.amount;
        if (sum !== (10_000 * 9_999) / 2) throw new Error('fold mismatch');
      }
    });
    await log.close();
    return [10_000 * rounds, ...r];
  },
  async w4() {
    const total = Math.round(200_000 * scale);
    const log = await readsFixture(total);
    const r = await profiled(async () => {
      for (let k = 0; k < 3; k++) {
        let n = 0;
        for await (const _ of log.readAll()) n++;
        if (n !== total) throw new Error('catch-up mismatch');
      }
    });
    await log.close();
    return [total * 3, ...r];
  },
  async projection() {
    const total = Math.round(300_000 * scale);
    const log = await openLog({ path: dir(), durability: 'buffered' });
    for (let i = 0; i < total; i += 1000) {
      await log.appendMulti(Array.from({ length: 10 }, (_, k) => ({ stream: `orders/s-${(i / 10 + k) % 2000}`, events: Array.from({ length: 100 }, (_, j) => ({ type: 'Placed', data: payload(i + k * 100 + j) })) })));
    }
    const p = defineProjection({ name: 'counting', patterns: ['orders/>'], handlers: { '*': (e, tx) => tx.update('perStream', e.stream, (n) => (n ?? 0) + 1) } });
    const runner = new ProjectionRunner(log, p, { batchSize: 5000, concurrency: 64 });
    const r = await profiled(async () => {
      await runner.start();
      await runner.waitFor(total, { timeoutMs: 600_000 });
    });
    await runner.stop();
    await log.close();
    return [total, ...r];
  },
  async aggregate() {
    const total = Math.round(10_000 * scale);
    const note = 'x'.repeat(170);
    const log = await openLog({ path: dir() });
    const repo = new AggregateRepository(log, Counter);
    const r = await profiled(() => pool(total, 32, (i) => repo.handle(`c-${i % 1000}`, { type: 'Add', data: { n: i, note } })));
    await repo.close();
    await log.close();
    return [total, ...r];
  },
};

if (!(which in workloads)) {
  console.error(`usage: node scripts/profile/workloads.mjs ${Object.keys(workloads).join('|')} [--out DIR] [--scale F]`);
  process.exit(2);
}
try {
  const [events, ms, profile] = await workloads[which]();
  if (values.out) await writeFile(join(values.out, `${which}.cpuprofile`), JSON.stringify(profile));
  summarise(which, events, ms, profile, Number(values.top));
} finally {
  await rm(root, { recursive: true, force: true });
}

/** Self time by function and by module, in µs per event. */
function summarise(name, events, ms, profile, top) {
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let total = 0;
  for (const [id, us] of dt) {
    const n = byId.get(id);
    const f = n.callFrame;
    const file = f.url ? f.url.replace(/^.*\/(packages|node_modules)\//, '$1/').replace(/^file:\/\//, '') : '(native)';
    const fn = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    const module = f.url ? file.replace(/^(node_modules\/(@[^/]+\/)?[^/]+|packages\/[^/]+\/dist\/[^:]+).*$/, '$1') : f.functionName;
    const e = self.get(fn) ?? { us: 0, module };
    e.us += us;
    self.set(fn, e);
    total += us;
  }
  const mods = new Map();
  for (const { us, module } of self.values()) mods.set(module, (mods.get(module) ?? 0) + us);
  const per = (us) => (us / events).toFixed(2).padStart(7);
  console.log(`${name}: ${events} events in ${ms.toFixed(0)} ms = ${((ms * 1000) / events).toFixed(2)} µs/event wall; profiled ${(total / 1000).toFixed(0)} ms`);
  console.log('\nby module (µs/event, share):');
  for (const [m, us] of [...mods].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${per(us)}  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${m}`);
  console.log('\nby function (self µs/event, share):');
  for (const [fn, { us }] of [...self].sort((a, b) => b[1].us - a[1].us).slice(0, top)) console.log(`${per(us)}  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${fn}`);
}
