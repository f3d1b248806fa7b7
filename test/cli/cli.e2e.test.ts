import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, strandAt } from './strand.js';

// The real `strand` binary (the npm bin shim over the built CLI) on a real LevelDB store.
let dir: string;

const strand = (...args: string[]) => strandAt(dir, args);

beforeAll(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'strand-cli-')), 'log');
});
afterAll(() => rm(join(dir, '..'), { recursive: true, force: true }));

describe('strand CLI', () => {
  it('says there is no log, with the fix, and exits 3', async () => {
    const r = await strand('info');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('strand init');
  });

  it('appends with expected versions and exits 2 on a conflict', async () => {
    const a = await strand('append', 'orders/eu/o-1', '--type', 'Placed', '--data', '{"total":4}', '--expect', 'no_stream', '--json');
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ stream: 'orders/eu/o-1', version: 1, position: 1, idempotent: false });
    const b = await strand('append', 'orders/eu/o-1', '--type', 'Placed', '--data', '{"total":5}', '--expect', 'no_stream', '--json');
    expect(b.code).toBe(2);
    expect(JSON.parse(b.stderr)).toMatchObject({ error: 'STRAND_WRONG_EXPECTED_VERSION' });
    expect((await strand('append', 'orders//bad', '--type', 'T', '--data', '1')).code).toBe(1);
    expect((await strand('append', 'orders/x', '--type', 'T', '--data', '{nope')).code).toBe(1);
    await strand('append', 'orders/eu/o-2', '--type', 'Placed', '--data', '{"total":7}');
    await strand('append', 'orders/us/o-3', '--type', 'Placed', '--data', '{"total":9}');
  });

  it('reads, browses and reports', async () => {
    const read = await strand('read', 'orders/eu/o-1', '--json');
    expect(JSON.parse(read.stdout).map((e: { data: unknown }) => e.data)).toEqual([{ total: 4 }]);
    expect((await strand('read', 'orders/none')).code).toBe(3);
    const streams = await strand('streams', 'orders', '--json');
    expect(JSON.parse(streams.stdout)).toEqual([
      { name: 'orders/eu', stream: false, version: '', below: 2 },
      { name: 'orders/us', stream: false, version: '', below: 1 },
    ]);
    const info = JSON.parse((await strand('info', '--json')).stdout);
    expect(info).toMatchObject({ streams: 3, position: 3, codec: 'json' });
    expect(info.bytesOnDisk).toBeGreaterThan(0);
    const human = await strand('streams', 'orders/eu');
    expect(human.stdout).toMatch(/NAME\s+STREAM\s+VERSION/);
    expect(human.stdout).toContain('orders/eu/o-1');
  });

  it('verifies the store', async () => {
    const v = await strand('verify', '--json');
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, events: 3, streams: 3, problems: [] });
  });

  it('tails live events', async () => {
    const child = spawn(process.execPath, [bin, '--path', dir, 'tail', 'orders/>', '--from', 'start', '--count', '4', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    const reader = createInterface({ input: child.stdout });
    const first3 = new Promise<void>((resolve) =>
      reader.on('line', (l) => {
        lines.push(l);
        if (lines.length === 3) resolve();
      }),
    );
    await first3;
    // A second process appends while tail polls: tail must print it live, then stop at --count 4.
    const appended = await strand('append', 'orders/eu/o-9', '--type', 'Placed', '--data', '1', '--json');
    expect(appended.code).toBe(0);
    expect(await done).toBe(0);
    expect(lines.map((l) => JSON.parse(l).position)).toEqual([1, 2, 3, 4]);
  });

  it('lists schemas and exports Parquet', async () => {
    const { openLog, SchemaRegistry } = await import('@strand/core');
    const { z } = await import('zod');
    const log = await openLog({ path: dir });
    const registry = await SchemaRegistry.open(log);
    await registry.register('Placed', 1, z.object({ total: z.number() }));
    await log.append('orders/eu/o-7', [{ type: 'Placed', data: { total: 3 } }]);
    await log.close();
    const list = await strand('schemas', '--json');
    expect(JSON.parse(list.stdout)).toEqual([{ type: 'Placed', latest: 1, compatibility: 'backward' }]);
    const ex = await strand('export', '--types', 'Placed', '--dir', join(dir, '..', 'pq'), '--name', 'cli', '--json');
    expect(ex.code, ex.stderr).toBe(0);
    expect(JSON.parse(ex.stdout).map((f: { rows: number }) => f.rows)).toEqual([1]);
    expect((await strand('export', '--types', 'Nope', '--dir', join(dir, '..', 'pq'))).code).toBe(1);
  });

  it('reports projections with their lag and parked streams', async () => {
    const { openLog } = await import('@strand/core');
    const { defineProjection, ProjectionRunner } = await import('@strand/projections');
    const log = await openLog({ path: dir });
    const p = defineProjection({
      name: 'totals',
      patterns: ['orders/>'],
      handlers: {
        '*': (e) => {
          if (e.stream === 'orders/us/o-3') throw new Error('cannot project o-3');
        },
      },
    });
    const runner = new ProjectionRunner(log, p, { attempts: 1 });
    await runner.start();
    await runner.waitFor(log.position);
    await runner.stop();
    const head = log.position;
    await log.close();
    const list = JSON.parse((await strand('projections', '--json')).stdout);
    expect(list).toEqual([{ name: 'totals', patterns: 'orders/>', generation: 0, position: head, head, lag: 0, parked: 1 }]);
    const parked = JSON.parse((await strand('projections', '--parked', '--json')).stdout);
    expect(parked).toEqual([{ projection: 'totals', stream: 'orders/us/o-3', version: 1, attempts: 1, error: 'cannot project o-3' }]);
    // Rebuild from the module that defines it (its new version no longer fails on o-3).
    const module = fileURLToPath(new URL('./fixtures/totals.mjs', import.meta.url));
    const rebuilt = await strand('projections', 'rebuild', 'totals', '--module', module, '--json');
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout)).toEqual([{ name: 'totals', generation: 1, position: head, head }]);
    expect(JSON.parse((await strand('projections', '--json')).stdout)).toEqual([{ name: 'totals', patterns: 'orders/>', generation: 1, position: head, head, lag: 0, parked: 0 }]);
    expect((await strand('projections', 'rebuild', 'nope', '--module', module)).code).toBe(3);
    expect((await strand('projections', 'rebuild', 'totals', '--module', join(dir, 'missing.js'))).code).toBe(1);
  });

  it('lists consumer groups and retries or skips parked streams, at rest and through a running coordinator', async () => {
    const { openLog } = await import('@strand/core');
    const { ConsumerGroup, serveGroup } = await import('@strand/projections');
    const log = await openLog({ path: dir });
    let group = await ConsumerGroup.open(log, { name: 'billing', pattern: 'orders/>', maxAttempts: 1 });
    let failing = true;
    const member = () =>
      group.consume((d) => {
        if (d.stream === 'orders/us/o-3' && failing) throw new Error('cannot bill o-3');
      });
    member();
    await group.drained();
    await group.close();
    const head = log.position;
    await log.close();
    expect(JSON.parse((await strand('groups', '--json')).stdout)).toEqual([{ name: 'billing', pattern: 'orders/>', watermark: head, head, active: 1, parked: 1 }]);
    expect(JSON.parse((await strand('groups', '--parked', '--json')).stdout)).toEqual([{ group: 'billing', stream: 'orders/us/o-3', version: 1, attempts: 1, error: 'cannot bill o-3' }]);
    expect(JSON.parse((await strand('groups', 'skip', 'billing', 'orders/us/o-3', '--json')).stdout)).toEqual({ group: 'billing', stream: 'orders/us/o-3', skipped: true });
    expect((await strand('groups', 'skip', 'billing', 'orders/us/o-3')).code).toBe(3);
    expect((await strand('groups', 'parked', 'nope')).code).toBe(3);
    // Live: the coordinator runs in this process and the CLI asks it over its socket.
    const log2 = await openLog({ path: dir });
    try {
      await log2.append('orders/us/o-3', [{ type: 'Placed', data: { total: 1 } }]);
      group = await ConsumerGroup.open(log2, { name: 'billing', pattern: 'orders/>', maxAttempts: 1 });
      member();
      await group.drained();
      const server = await serveGroup([group], { path: join(dir, '..', 'billing.sock') });
      const at = (server.address as { path: string }).path;
      const parked = JSON.parse((await strand('groups', 'parked', 'billing', '--connect', at, '--json')).stdout);
      expect(parked.map((p: { stream: string; version: number }) => [p.stream, p.version])).toEqual([['orders/us/o-3', 2]]);
      failing = false;
      expect(JSON.parse((await strand('groups', 'retry', 'billing', 'orders/us/o-3', '--connect', at, '--json')).stdout)).toEqual({ group: 'billing', stream: 'orders/us/o-3', retried: true });
      await group.drained();
      expect(group.parked()).toEqual([]);
      await server.close();
      await group.close();
    } finally {
      await log2.close();
    }
  });

  it('manages tenants', async () => {
    const tdir = join(dir, '..', 'tenants');
    const t = (...args: string[]) => strand('--path', tdir, ...args);
    expect(JSON.parse((await t('tenants', 'create', 'acme', '--max-streams', '10', '--json')).stdout)).toMatchObject({ name: 'acme', status: 'active', quotas: '{"streams":10}' });
    expect((await t('tenants', 'create', 'acme')).code).toBe(2);
    await t('tenants', 'create', 'beta');
    expect(JSON.parse((await t('tenants', '--json')).stdout).map((r: { name: string }) => r.name)).toEqual(['acme', 'beta']);
    await t('tenants', 'suspend', 'beta');
    expect(JSON.parse((await t('tenants', 'list', '--json')).stdout).find((r: { name: string }) => r.name === 'beta').status).toBe('suspended');
    expect(JSON.parse((await t('tenants', 'usage', 'acme', '--json')).stdout)).toMatchObject({ name: 'acme', eventsAppended: 0, streams: 0 });
    expect((await t('tenants', 'metrics')).stdout).toContain('strand_tenant_appends_total{tenant="acme"} 0');
    await t('tenants', 'delete', 'beta');
    expect(JSON.parse((await t('tenants', '--json')).stdout).map((r: { name: string }) => r.name)).toEqual(['acme']);
    expect((await t('tenants', 'delete', 'nope')).code).toBe(3);
  });

  it('prints help with examples for every command', async () => {
    for (const cmd of ['init', 'info', 'streams', 'read', 'tail', 'append', 'verify', 'schemas', 'export', 'projections', 'groups', 'tenants']) {
      const h = await strand(cmd, '--help');
      expect(h.code, cmd).toBe(0);
      expect(h.stdout, cmd).toContain('Examples:');
    }
  });
});
