import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventLog, openLog, SchemaRegistry } from '@strand/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bin, strandAt } from './strand.js';

// Issue 21: what a new user hits with the CLI (items 1, 2, 5, 6, 7, 8). The real binary on LevelDB.
const projectionsEntry = fileURLToPath(new URL('../../packages/projections/dist/index.js', import.meta.url));
let root: string;
let dir: string;

const strand = (...args: string[]) => strandAt(dir, args);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'strand-new-user-'));
  dir = join(root, 'app-data');
  const log = await openLog({ path: dir });
  const registry = await SchemaRegistry.open(log);
  await registry.register('StockReceived', 1, z.object({ qty: z.number().int().positive() }));
  await registry.bind('stock/>', ['StockReceived']);
  await log.append('stock/WIDGET-1', [{ type: 'StockReceived', data: { qty: 5 } }]);
  for (let i = 0; i < 30; i++) await log.append(`orders/o-${i}`, Array.from({ length: 100 }, (_, k) => ({ type: 'Placed', data: { i, k, pad: 'x'.repeat(200) } })));
  await log.close();
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('strand CLI for a new user (issue 21)', () => {
  it('item 1: the CLI enforces the schemas stored in the log', async () => {
    const bad = await strand('append', 'stock/WIDGET-1', '--type', 'StockReceived', '--data', '{"qty":-5}', '--json');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: 'STRAND_SCHEMA_VALIDATION' });
    const bogus = await strand('append', 'stock/WIDGET-1', '--type', 'Bogus', '--data', '{}', '--json');
    expect(JSON.parse(bogus.stderr)).toMatchObject({ error: 'STRAND_UNKNOWN_EVENT_TYPE' });
    const info = JSON.parse((await strand('read', 'stock/WIDGET-1', '--json')).stdout);
    expect(info).toHaveLength(1);
  });

  it('item 5: a closed pipe ends the command quietly', async () => {
    for (const args of [['read', 'orders/o-1'], ['tail', 'orders/>', '--from', 'start', '--count', '3000'], ['verify']]) {
      const child = spawn(process.execPath, [bin, '--path', dir, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      // Like `| head -1`: read the first chunk, then close the pipe.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(stderr, args.join(' ')).not.toMatch(/EPIPE|Error/);
      expect(code, args.join(' ')).toBe(0);
    }
  });

  it('item 6: read-only commands never create a store; a directory that is not a log is an error', async () => {
    // The parent of the log: an existing directory that is not a Strand log.
    const before = await readdir(root);
    for (const args of [['info'], ['read', 'orders/o-1'], ['verify'], ['tail', 'orders/>', '--count', '1']]) {
      const r = await strandAt(root, [...args, '--json']);
      expect(r.code, args.join(' ')).toBe(3);
      expect(JSON.parse(r.stderr), args.join(' ')).toMatchObject({ error: 'STRAND_NOT_FOUND' });
    }
    expect(await readdir(root)).toEqual(before);
    expect(existsSync(join(root, 'LOCK'))).toBe(false);
    // A LevelDB database that holds no Strand log is not turned into one by a read.
    const empty = join(root, 'plain-leveldb');
    await mkdir(empty);
    const { ClassicLevel } = await import('classic-level');
    const db = new ClassicLevel(empty);
    await db.open();
    await db.close();
    const r = await strandAt(empty, ['info']);
    expect(r.code).toBe(3);
  });

  it('item 7: tail --from end works, and bad numbers are quoted as typed', async () => {
    const head = JSON.parse((await strand('info', '--json')).stdout).position as number;
    const child = spawn(process.execPath, [bin, '--path', dir, 'tail', 'orders/>', '--from', 'end', '--count', '1', '--interval', '20', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    let done = false;
    void exited.then(() => (done = true));
    // Appends keep coming until tail has printed one (it starts at the end, whenever that is).
    for (let i = 0; i < 30 && !done; i++) await strand('append', 'orders/live', '--type', 'Placed', '--data', `{"i":${i}}`);
    expect(await exited).toBe(0);
    const printed = JSON.parse(stdout.trim().split('\n')[0]!);
    expect(printed.stream).toBe('orders/live');
    expect(printed.position).toBeGreaterThan(head);
    const typo = await strand('tail', 'orders/>', '--from', 'beginning', '--json');
    expect(typo.code).toBe(1);
    expect(JSON.parse(typo.stderr).message).toMatch(/--from must be an integer >= 1 or 'start' or 'end'; got "beginning"/);
    const limit = await strand('read', 'orders/o-1', '--limit', 'ten', '--json');
    expect(JSON.parse(limit.stderr).message).toContain('"ten"');
    expect(JSON.parse(limit.stderr).message).not.toMatch(/null|NaN/);
  });

  it('item 8: a log held by a running application: the error says what to do', async () => {
    const app: EventLog = await openLog({ path: dir });
    try {
      const r = await strand('info', '--lock-timeout', '100', '--json');
      expect(r.code).toBe(5);
      const { error, message } = JSON.parse(r.stderr);
      expect(error).toBe('STRAND_LOG_LOCKED');
      expect(message).toMatch(/running application/);
      expect(message).toMatch(/--lock-timeout/);
      expect(message).toMatch(/--server URL/);
      expect(message).toMatch(/S3/);
    } finally {
      await app.close();
    }
  });

  it('item 2: projections rebuild refuses an inline projection', async () => {
    const module = join(root, 'read-models.mjs');
    await writeFile(
      module,
      `import { defineProjection } from ${JSON.stringify(projectionsEntry)};\nexport const totals = defineProjection({ name: 'totals', patterns: ['orders/>'], handlers: { Placed: () => {} } });\n`,
    );
    const { attachInline, defineProjection } = await import('@strand/projections');
    const log = await openLog({ path: dir });
    attachInline(log, defineProjection({ name: 'totals', patterns: ['orders/>'], handlers: { Placed: () => {} } }));
    await log.append('orders/inline', [{ type: 'Placed', data: {} }]);
    await log.close();
    const r = await strand('projections', 'rebuild', 'totals', '--module', module, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: 'STRAND_INVALID_ARGUMENT' });
    expect(JSON.parse(r.stderr).message).toMatch(/inline/);
  });
});
