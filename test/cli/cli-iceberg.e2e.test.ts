import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openLog, SchemaRegistry } from '@strand/core';
import { exportedPosition, FileTableIO, IcebergTable } from '@strand/iceberg';
import { icebergRead } from 'icebird';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serveTables } from '../support/iceberg.js';
import { bin, strandAt } from './strand.js';

// The real `strand` binary exporting to an Iceberg table; icebird reads what it wrote.
let root: string;
let restore: () => void;

const strand = (...args: string[]) => strandAt(join(root, 'log'), args);

async function append(from: number, to: number): Promise<void> {
  const log = await openLog({ path: join(root, 'log'), clock: () => Date.UTC(2026, 5, 1, 12) }); // one partition
  const registry = await SchemaRegistry.open(log);
  await registry.register('Placed', 1, z.object({ total: z.number() }));
  for (let i = from; i < to; i++) await log.append(`orders/o-${i % 4}`, [{ type: 'Placed', data: { total: i } }]);
  await log.close();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'strand-cli-iceberg-'));
  restore = serveTables();
});
afterAll(async () => {
  restore();
  await rm(root, { recursive: true, force: true });
});

describe('strand export --format iceberg', () => {
  it('exports, follows until Ctrl-C, compacts and expires', async () => {
    const table = join(root, 'table');
    await append(0, 30);
    const r = await strand('export', '--format', 'iceberg', '--types', 'Placed', '--table', table, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ from: 1, to: 30, snapshots: 1, rows: 30 });

    await append(30, 45);
    const follow = spawn(process.execPath, [bin, '--path', join(root, 'log'), 'export', '--format', 'iceberg', '--types', 'Placed', '--table', table, '--follow', '--commit-interval', '20', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => follow.on('exit', (code) => resolve(code)));
    const lines = createInterface({ input: follow.stdout });
    // One JSON line per commit (time-based, so the 15 events may come in more than one).
    let rows = 0;
    for await (const line of lines) {
      const commit = JSON.parse(line) as { rows: number; position: number };
      rows += commit.rows;
      if (commit.position >= 45) break;
    }
    expect(rows).toBe(15);
    follow.kill('SIGINT');
    expect(await exited).toBe(0);

    const snapshots = (await IcebergTable.load(new FileTableIO(table)))!.metadata.snapshots.length;
    const c = await strand('export', '--format', 'iceberg', '--table', table, '--compact', '--expire', '--older-than', '0', '--json');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { compacted: snapshots, written: 1, manifestsBefore: snapshots, manifestsAfter: 1 },
      expect.objectContaining({ expired: snapshots, kept: 1 }),
    ]);
    const t = (await IcebergTable.load(new FileTableIO(table)))!;
    expect(exportedPosition(t.metadata)).toBe(45);
    const read = await icebergRead({ tableUrl: new FileTableIO(table).location });
    expect(read.map((x) => x.total).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 45 }, (_, i) => i));

    const d = await strand('export', '--format', 'iceberg', '--table', table, '--delete-streams', 'orders/o-1', '--expire', '--older-than', '0', '--json');
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout.split('\n')[0]!)).toEqual({ deletedRows: 11, rewrittenFiles: 1 });
    const left = await icebergRead({ tableUrl: new FileTableIO(table).location });
    expect(left.map((x) => x.total).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 45 }, (_, i) => i).filter((i) => i % 4 !== 1));

    expect((await strand('export', '--format', 'iceberg', '--types', 'Placed')).code).toBe(1);
    expect((await strand('export', '--format', 'orc', '--types', 'Placed', '--dir', table)).code).toBe(1);
  });
});
