/**
 * The packages as a user gets them: `npm pack` each (its `prepack` builds), install the tarballs
 * into a scratch app outside the monorepo (dependencies from the npm cache the monorepo's install
 * filled, so no network is needed), and run an example there. Also the "lean core" check users can
 * run: `npm ls --omit=dev --all` in an app with only `@strand/core` lists no CLI, Parquet,
 * Prometheus or DI package.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir: string;
const tarballs: Record<string, string> = {};

async function pack(pkg: string): Promise<string> {
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', dir], { cwd: join(root, 'packages', pkg), maxBuffer: 64 * 1024 * 1024 });
  const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (info === undefined) throw new Error(`npm pack ${pkg} printed nothing`);
  expect(info.files.filter((f) => /\.test\.ts$|tsbuildinfo$/.test(f.path)), `${pkg} ships no tests`).toEqual([]);
  return join(dir, info.filename);
}

async function app(name: string, dependencies: Record<string, string>): Promise<string> {
  const at = join(dir, name);
  await run('mkdir', ['-p', at]);
  await writeFile(join(at, 'package.json'), JSON.stringify({ name, private: true, type: 'module', dependencies }, null, 2));
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: at, maxBuffer: 64 * 1024 * 1024 });
  return at;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-tarballs-'));
  for (const pkg of ['core', 'aggregate', 'projections']) tarballs[pkg] = await pack(pkg);
}, 600_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the packed packages, installed in an app outside the monorepo', () => {
  it('run an example: a log, an aggregate and a projection', async () => {
    const at = await app('example-app', {
      '@strand/core': `file:${tarballs.core}`,
      '@strand/aggregate': `file:${tarballs.aggregate}`,
      '@strand/projections': `file:${tarballs.projections}`,
      rxjs: '^7.8.2',
      zod: '^4.1.0',
    });
    await writeFile(
      join(at, 'main.js'),
      `import { openLog, isStrandError } from '@strand/core';
import { AggregateRepository, defineAggregate } from '@strand/aggregate';
import { defineProjection, ProjectionRunner } from '@strand/projections';
import { z } from 'zod';

const Counter = defineAggregate({
  name: 'counter',
  stream: (id) => 'counters/' + id,
  commands: { Add: z.object({ n: z.number().int() }) },
  events: { Added: z.object({ n: z.number().int() }) },
  state: z.object({ total: z.number().int() }),
  initialState: () => ({ total: 0 }),
  decide: { Add: (c) => ({ type: 'Added', data: { n: c.n } }) },
  evolve: { Added: (s, e) => ({ total: s.total + e.n }) },
});
const totals = defineProjection({
  name: 'totals',
  patterns: ['counters/>'],
  handlers: { Added: (e, tx) => tx.update('t', 'all', (d) => ({ n: (d?.n ?? 0) + e.data.n })) },
});
const log = await openLog({ memory: true });
const counters = new AggregateRepository(log, Counter);
const runner = new ProjectionRunner(log, totals);
await runner.start();
await counters.handle('a', { type: 'Add', data: { n: 2 } });
const r = await counters.handle('a', { type: 'Add', data: { n: 3 } });
await runner.waitFor(r.position);
let conflict = '';
try { await log.append('counters/a', [{ type: 'Added', data: { n: 1 } }], { expectedVersion: 0 }); } catch (e) { if (isStrandError(e)) conflict = e.code; }
console.log(JSON.stringify({ state: (await counters.load('a')).state, projected: await runner.view().get('t', 'all'), conflict }));
await runner.stop();
await counters.close();
await log.close();
`,
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: at });
    expect(JSON.parse(stdout)).toEqual({ state: { total: 5 }, projected: { n: 5 }, conflict: 'STRAND_WRONG_EXPECTED_VERSION' });
  });

  it('@strand/core alone installs no CLI, Parquet, Prometheus or DI package', async () => {
    const at = await app('core-only', { '@strand/core': `file:${tarballs.core}`, rxjs: '^7.8.2', zod: '^4.1.0' });
    const { stdout } = await run(npm, ['ls', '--omit=dev', '--all', '--parseable', '--long'], { cwd: at, maxBuffer: 64 * 1024 * 1024 });
    const installed = stdout.split('\n').map((l) => l.split(':')[1]?.replace(/@[^@]*$/, '') ?? '');
    expect(installed).toContain('@strand/core');
    expect(installed).toContain('classic-level');
    for (const name of ['@strand/cli', 'commander', 'cli-progress', 'hyparquet-writer', 'prom-client', 'tsyringe', 'reflect-metadata', 'pino', 'fast-check']) {
      expect(installed, name).not.toContain(name);
    }
  });
});
