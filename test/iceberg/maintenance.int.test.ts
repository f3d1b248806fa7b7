import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openLog, SchemaRegistry } from '@strand/core';
import { compactTable, deleteStreams, expireSnapshots, exportedPosition, exportIceberg, FileTableIO, IcebergTable, liveFiles, removeOrphanFiles, type TableIO } from '@strand/iceberg';
import { icebergRead } from 'icebird';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { metadataProblems } from '../support/iceberg.js';
import { tickPositions, useTickLog } from './tick-log.js';

const Tick = z.object({ n: z.number().int(), label: z.string() });

async function readPositions(dir: string): Promise<number[]> {
  const rows = await icebergRead({ tableUrl: new FileTableIO(dir).location });
  return rows.map((r) => Number(r.position)).sort((a, b) => a - b);
}

describe('Iceberg table maintenance', () => {
  const suite = useTickLog('maint', Tick);

  it('compacts small files and manifests, expires snapshots and removes orphans; the rows stay the same', async () => {
    const { root, log, registry } = suite;
    const dir = join(root, 'maint');
    for (let i = 0; i < 300; i++) await log.append(`t/${i % 5}`, [{ type: 'Tick', data: { n: i, label: `x${i}` } }]);
    await exportIceberg(registry, { types: ['Tick'], table: dir, commitEvery: 20 });
    const io = new FileTableIO(dir);
    const before = (await IcebergTable.load(io))!;
    expect(before.metadata.snapshots).toHaveLength(15);
    const want = await tickPositions(log);
    expect(await readPositions(dir)).toEqual(want);

    // An orphan: a data file no snapshot references (as a crashed writer leaves behind).
    await io.write('data/orphan.parquet', new Uint8Array([1, 2, 3]));

    const c = await compactTable(dir, { targetRows: 100 });
    expect(c).toMatchObject({ rewrittenFiles: 15, addedFiles: 3, manifestsBefore: 15, manifestsAfter: 1 });
    const t = (await IcebergTable.load(io))!;
    expect(t.metadata.snapshots.at(-1)!.summary.operation).toBe('replace');
    expect(exportedPosition(t.metadata)).toBe(exportedPosition(before.metadata));
    expect((await liveFiles(t, t.metadata.snapshots.at(-1))).map((e) => e.data_file.record_count)).toEqual([100, 100, 100]);
    expect(await readPositions(dir)).toEqual(want);
    expect(metadataProblems(t.metadata as unknown as Record<string, unknown>)).toEqual([]);

    const e = await expireSnapshots(dir, { olderThanMs: 0, retainLast: 1 });
    expect(e.expired).toBe(15);
    expect(e.deletedFiles).toBeGreaterThanOrEqual(15 + 15 + 15); // manifest lists, manifests, small data files
    const after = (await IcebergTable.load(io))!;
    expect(after.metadata.snapshots).toHaveLength(1);
    expect(after.metadata['snapshot-log']).toHaveLength(1);
    expect(metadataProblems(after.metadata as unknown as Record<string, unknown>)).toEqual([]);
    expect(await readPositions(dir)).toEqual(want);

    const o = await removeOrphanFiles(dir, { olderThanMs: 0 });
    expect(o.deleted).toContain('data/orphan.parquet');
    expect(await readPositions(dir)).toEqual(want);
    expect((await io.list('data/')).filter((f) => f.path.endsWith('.parquet'))).toHaveLength(3);

    // The next export continues after the position the compaction carried forward.
    for (let i = 0; i < 7; i++) await log.append('t/more', [{ type: 'Tick', data: { n: 1000 + i, label: 'more' } }]);
    const r = await exportIceberg(registry, { types: ['Tick'], table: dir });
    expect(r.rows).toBe(7);
    expect(await readPositions(dir)).toEqual(await tickPositions(log));
  });

  it('deletes the rows of streams (copy-on-write), and expiry plus orphan removal erase the old files', async () => {
    const { root } = suite;
    const dir = join(root, 'erase');
    const log2 = await openLog({ path: join(root, 'erase-log'), clock: () => Date.UTC(2026, 5, 2, 12) });
    try {
      const reg = await SchemaRegistry.open(log2);
      await reg.register('Tick', 1, Tick);
      for (let i = 0; i < 60; i++) await log2.append(`people/p-${i % 6}`, [{ type: 'Tick', data: { n: i, label: `secret-${i % 6}` } }]);
      await exportIceberg(reg, { types: ['Tick'], table: dir, commitEvery: 25 });
      const io = new FileTableIO(dir);
      const before = (await IcebergTable.load(io))!;
      const r = await deleteStreams(dir, ['people/p-2', 'people/p-4']);
      expect(r).toMatchObject({ deletedRows: 20, rewrittenFiles: 3 });
      const t = (await IcebergTable.load(io))!;
      expect(t.metadata.snapshots.at(-1)!.summary).toMatchObject({ operation: 'overwrite', 'deleted-records': '20', 'total-records': '40' });
      expect(exportedPosition(t.metadata)).toBe(exportedPosition(before.metadata));
      const rows = await icebergRead({ tableUrl: io.location });
      expect(rows.map((x) => Number(x.position)).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1).filter((p) => (p - 1) % 6 !== 2 && (p - 1) % 6 !== 4));
      expect(rows.some((x) => x.stream === 'people/p-2')).toBe(false);
      expect((await deleteStreams(dir, ['people/none'])).snapshotId).toBeUndefined();

      // Old snapshots still reference the old files until they expire and the files are removed.
      await expireSnapshots(dir, { olderThanMs: 0 });
      await removeOrphanFiles(dir, { olderThanMs: 0 });
      const left = (await io.list('data/')).filter((f) => f.path.endsWith('.parquet')).map((f) => `'${join(dir, f.path)}'`);
      const duck = await (await DuckDBInstance.create()).connect();
      try {
        const [found] = (await duck.runAndReadAll(`select count(*) as n, count(*) filter (where stream in ('people/p-2', 'people/p-4')) as deleted from read_parquet([${left.join(',')}])`)).getRowObjectsJson();
        expect(found, 'no data file left holds a deleted stream').toEqual({ n: '40', deleted: '0' });
      } finally {
        duck.closeSync();
      }
      expect(await readPositions(dir)).toHaveLength(40);
    } finally {
      await log2.close();
    }
  });

  it('an exporter that loses its commit to a compaction retries on the new metadata with the same files', async () => {
    const { root, log, registry } = suite;
    const dir = join(root, 'retry');
    await exportIceberg(registry, { types: ['Tick'], table: dir, commitEvery: 50, to: 100 });
    const io = new FileTableIO(dir);
    let compacted: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      compacted = resolve;
    });
    let paused: () => void = () => undefined;
    const atCommit = new Promise<void>((resolve) => {
      paused = resolve;
    });
    let first = true;
    const slow: TableIO = {
      location: io.location,
      read: (p) => io.read(p),
      write: (p, b) => io.write(p, b),
      list: (p) => io.list(p),
      delete: (p) => io.delete(p),
      create: async (p, b) => {
        if (first) {
          first = false;
          paused();
          await gate;
        }
        return io.create(p, b);
      },
    };
    const exporting = exportIceberg(registry, { types: ['Tick'], table: slow });
    await atCommit;
    const c = await compactTable(dir, { targetRows: 1000 });
    expect(c.snapshotId).toBeDefined();
    compacted();
    const r = await exporting;
    expect(r.snapshots).toBe(1);
    expect(await readPositions(dir)).toEqual(await tickPositions(log));
    const t = (await IcebergTable.load(io))!;
    expect(t.metadata.snapshots.map((s) => s.summary.operation)).toEqual(['append', 'append', 'replace', 'append']);
  });
});
