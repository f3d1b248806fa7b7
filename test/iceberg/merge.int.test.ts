import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportIceberg, FileTableIO, IcebergTable, readManifest, removeOrphanFiles, type TableMetadata } from '@strand/iceberg';
import { icebergManifests, icebergMetadata, icebergRead } from 'icebird';
import { fetchAvroRecords } from 'icebird/src/fetch.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { metadataProblems } from '../support/iceberg.js';
import { tickPositions, useTickLog } from './tick-log.js';

const Tick = z.object({ n: z.number().int() });

// Bounded metadata for long-lived tables (issue 19): manifests merge once a snapshot would list
// more than `commit.manifest.min-count-to-merge` (100) of them, and `retainSnapshots` drops the
// oldest snapshots in the commit. icebird, an independent reader, reads every table back.
describe('Iceberg manifest merging and snapshot retention', () => {
  const suite = useTickLog('merge', Tick);

  it('merges small manifests into one when a snapshot would list more than 100; entries keep their sequence numbers', async () => {
    const { root, log, registry } = suite;
    const dir = join(root, 'merge');
    const from = log.position;
    for (let i = 0; i < 130; i++) await log.append(`t/${i % 7}`, [{ type: 'Tick', data: { n: i } }]);
    const out = await exportIceberg(registry, { types: ['Tick'], table: dir, commitEvery: 1 });
    expect(out.snapshots).toBe(130);
    const table = (await IcebergTable.load(new FileTableIO(dir)))!;
    const m = table.metadata;
    expect(m.snapshots).toHaveLength(130);
    // The 101st commit merged the 101 manifests into one; 29 appends since added one each.
    const merging = m.snapshots.filter((s) => s.summary['manifests-replaced'] !== undefined);
    expect(merging.map((s) => s.summary['manifests-replaced'])).toEqual(['101']);
    const list = await table.manifestList(m.snapshots.at(-1));
    expect(list).toHaveLength(30);
    expect(list.reduce((a, mf) => a + mf.added_files_count + mf.existing_files_count, 0)).toBe(130);
    expect(Math.max(...m.snapshots.map((s) => Number(s.summary['manifests-kept'] ?? 0) + Number(s.summary['manifests-created'])))).toBeLessThanOrEqual(101);

    // Every data file keeps the sequence number and snapshot id of the append that added it.
    const seqOf = new Map(m.snapshots.map((s) => [s['snapshot-id'], s['sequence-number']]));
    let existing = 0;
    for (const mf of list) {
      for (const e of await readManifest(table, mf)) {
        expect(e.status).not.toBe(2);
        if (e.status === 0) existing++;
        expect(e.sequence_number).toBe(seqOf.get(e.snapshot_id!));
        expect(e.file_sequence_number).toBe(e.sequence_number);
      }
    }
    expect(existing).toBe(100);
    // The manifests the merge replaced are still referenced by the snapshots before it.
    const first = await table.manifestList(m.snapshots[0]);
    expect((await stat(fileURLToPath(first[0]!.manifest_path))).isFile()).toBe(true);

    // icebird reads the table through its metadata: every event once; the spec's fields are there.
    const tableUrl = new FileTableIO(dir).location;
    const read = (await icebergMetadata({ tableUrl })) as unknown as TableMetadata;
    expect(metadataProblems(read as unknown as Record<string, unknown>)).toEqual([]);
    const records = (await fetchAvroRecords(read.snapshots.at(-1)!['manifest-list'])) as Array<Record<string, unknown>>;
    expect(records).toHaveLength(30);
    const entries = (await icebergManifests(read as never)).flatMap((x) => x.entries);
    expect(entries).toHaveLength(130);
    const rows = await icebergRead({ tableUrl, metadata: read as never });
    const positions = rows.map((r) => Number(r.position)).sort((a, b) => a - b);
    expect(positions).toEqual((await tickPositions(log)).filter((p) => p > from));
    expect(new Set(rows.map((r) => Number(r.n))).size).toBe(130);
  });

  it('retainSnapshots keeps the newest snapshots only, deletes the dropped manifest lists, and the table reads the same', async () => {
    const { root, log, registry } = suite;
    const dir = join(root, 'retain');
    const from = log.position;
    for (let i = 0; i < 30; i++) await log.append(`r/${i % 3}`, [{ type: 'Tick', data: { n: i } }]);
    await exportIceberg(registry, { types: ['Tick'], table: dir, commitEvery: 5, to: from + 15 });
    const io = new FileTableIO(dir);
    const early = (await IcebergTable.load(io))!.metadata.snapshots.map((s) => s['manifest-list']);
    // A new table starts at the log's beginning: the first test's 130 ticks, then 15 of these, 5 per snapshot.
    expect(early).toHaveLength(29);
    await exportIceberg(registry, { types: ['Tick'], table: dir, commitEvery: 1, retainSnapshots: 4 });
    const t = (await IcebergTable.load(io))!;
    const m = t.metadata;
    expect(m.snapshots).toHaveLength(4);
    expect(m['snapshot-log'].map((e) => e['snapshot-id'])).toEqual(m.snapshots.map((s) => s['snapshot-id']));
    expect(m.snapshots.at(-1)!['snapshot-id']).toBe(m['current-snapshot-id']);
    for (const uri of early) await expect(stat(fileURLToPath(uri))).rejects.toMatchObject({ code: 'ENOENT' });

    const want = await tickPositions(log);
    expect(want).toHaveLength(160);
    const read = async () => (await icebergRead({ tableUrl: io.location })).map((r) => Number(r.position)).sort((a, b) => a - b);
    expect(await read()).toEqual(want);
    const tableUrl = io.location;
    expect(metadataProblems((await icebergMetadata({ tableUrl })) as unknown as Record<string, unknown>)).toEqual([]);
    // What only dropped snapshots referenced is an orphan now; removing it leaves the table whole.
    await removeOrphanFiles(dir, { olderThanMs: 0 });
    expect(await read()).toEqual(want);
    await expect(exportIceberg(registry, { types: ['Tick'], table: dir, retainSnapshots: 0 })).rejects.toMatchObject({ code: 'STRAND_INVALID_ARGUMENT' });
  });
});
