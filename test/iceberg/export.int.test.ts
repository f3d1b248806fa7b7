import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { type EventLog, isStrandError, openLog, type RecordedEvent, SchemaRegistry } from '@strand/core';
import { exportIceberg, exportedPosition, IcebergTable, FileTableIO, type TableMetadata } from '@strand/iceberg';
import { icebergManifests, icebergMetadata, icebergRead } from 'icebird';
import { fetchAvroRecords } from 'icebird/src/fetch.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataProblems, serveTables } from '../support/iceberg.js';
import { appendOrders, OrderPlaced, Shipped } from '../support/orders.js';

async function events(log: EventLog, type: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of log.readAll()) if (e.type === type) out.push(e);
  return out;
}

/** The row an Iceberg reader should see for an event (icebird's value types). */
function expectedRow(e: RecordedEvent): Record<string, unknown> {
  const d = e.data as Record<string, unknown> & { customer: { name: string; vip?: boolean } };
  return {
    stream: e.stream,
    version: BigInt(e.version),
    position: BigInt(e.position),
    time: new Date(e.timestamp),
    id: e.id,
    type: e.type,
    schema_version: e.schemaVersion,
    ...(e.type === 'OrderPlaced'
      ? { orderId: d.orderId, total: d.total, items: BigInt(d.items as number), status: d.status, at: new Date(d.at as string), 'customer.name': d.customer.name, 'customer.vip': d.customer.vip ?? null, tags: JSON.stringify(d.tags), note: d.note ?? null }
      : { orderId: d.orderId, carrier: d.carrier }),
  };
}

function normalise(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = v === undefined ? null : v;
  return out;
}

// Every table written here is read back by independent code: icebird (through the table's
// metadata, manifest list and manifests) and DuckDB (the Parquet data files).
describe('Iceberg export to a directory, read by icebird and DuckDB', () => {
  let root: string;
  let restore: () => void;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'strand-iceberg-'));
    restore = serveTables();
  });
  afterAll(async () => {
    restore();
    await rm(root, { recursive: true, force: true });
  });

  it('exports two types into one table partitioned by day and type', async () => {
    const log = await openLog({ path: join(root, 'log2') });
    const duck = await DuckDBInstance.create();
    const db = await duck.connect();
    try {
      const registry = await SchemaRegistry.open(log);
      await registry.register('OrderPlaced', 1, OrderPlaced);
      await registry.register('Shipped', 1, Shipped);
      await appendOrders(
        log,
        150,
        (data) => ({ type: 'OrderPlaced', data }),
        (i) => log.append(`other/s-${i}`, [{ type: 'Unrelated', data: { i } }]),
      );
      const dir = join(root, 'orders');
      const first = await exportIceberg(registry, { types: ['OrderPlaced', 'Shipped'], table: dir, commitEvery: 60 });
      expect(first.rows).toBe(165);
      expect(first.snapshots).toBe(3);
      expect(first.from).toBe(1);

      // Incremental: the next run starts after the position in the current snapshot's summary.
      for (let i = 151; i <= 160; i++) await log.append(`orders/us/o-${i}`, [{ type: 'Shipped', data: { orderId: `o-${i}`, carrier: 'ups' } }]);
      const second = await exportIceberg(registry, { types: ['Shipped', 'OrderPlaced'], table: dir });
      expect(second.from).toBe(first.to + 1);
      expect(second.rows).toBe(10);
      const none = await exportIceberg(registry, { types: ['OrderPlaced', 'Shipped'], table: dir });
      expect(none.snapshots).toBe(0);

      const table = (await IcebergTable.load(new FileTableIO(dir)))!;
      const m = table.metadata;
      expect(exportedPosition(m)).toBe(log.position);
      expect(m.snapshots).toHaveLength(4);
      expect(m['partition-specs'][0]!.fields.map((f) => [f.transform, f['source-id']])).toEqual([
        ['day', 4],
        ['identity', 6],
      ]);

      // The metadata as an independent reader finds it (through version-hint.text), against the spec.
      const tableUrl = new FileTableIO(dir).location;
      const read = (await icebergMetadata({ tableUrl })) as unknown as TableMetadata;
      expect(read['current-snapshot-id']).toBe(m['current-snapshot-id']);
      expect(metadataProblems(read as unknown as Record<string, unknown>)).toEqual([]);
      expect(read['snapshot-log']).toHaveLength(4);
      expect(read['metadata-log'].length).toBe(table.version - 1);

      // Manifest list entries carry counts that add up to the table's rows.
      const list = (await fetchAvroRecords(read.snapshots.at(-1)!['manifest-list'])) as Array<Record<string, unknown>>;
      expect(list).toHaveLength(4);
      for (const mf of list) {
        for (const k of ['manifest_path', 'manifest_length', 'partition_spec_id', 'content', 'sequence_number', 'min_sequence_number', 'added_snapshot_id', 'added_files_count', 'existing_files_count', 'deleted_files_count', 'added_rows_count', 'existing_rows_count', 'deleted_rows_count']) expect(mf[k], k).not.toBeUndefined();
      }
      expect(list.reduce((a, mf) => a + Number(mf.added_rows_count), 0)).toBe(175);
      const manifests = await icebergManifests(read as never);
      const entries = manifests.flatMap((x) => x.entries);
      expect(entries.reduce((a, e) => a + Number(e.data_file.record_count), 0)).toBe(175);
      // Every data file sits in one partition: one day, one type.
      for (const e of entries) expect(Object.keys(e.data_file.partition).sort()).toEqual(['time_day', 'type']);

      // Rows: the log's events of both types, each once, with typed columns.
      const rows = (await icebergRead({ tableUrl, metadata: read as never })).map(normalise);
      const expected = [...(await events(log, 'OrderPlaced')), ...(await events(log, 'Shipped'))];
      expect(rows).toHaveLength(expected.length);
      const byPosition = new Map(rows.map((r) => [Number(r.position), r]));
      expect(byPosition.size).toBe(expected.length);
      for (const e of expected) {
        const want = expectedRow(e);
        const got = byPosition.get(e.position)!;
        for (const [k, v] of Object.entries(want)) expect(got[k], `${k} of ${e.position}`).toEqual(v);
      }

      // DuckDB reads the data files directly: Iceberg types and field ids in the Parquet schema.
      const files = (await readdir(join(dir, 'data'), { recursive: true })).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, 'data', f));
      expect(files.length).toBe(entries.length);
      const list2 = `[${files.map((f) => `'${f}'`).join(',')}]`;
      const [agg] = (await db.runAndReadAll(`select count(*) as n, count(distinct position) as p, sum(total) as total, count(customer_x2Evip) as vips from read_parquet(${list2}, union_by_name = true)`)).getRowObjectsJson();
      const placed = await events(log, 'OrderPlaced');
      expect(agg).toEqual({ n: '175', p: '175', total: placed.reduce((a, e) => a + (e.data as { total: number }).total, 0), vips: '50' });
      const ids = (await db.runAndReadAll(`select name, field_id, type, converted_type from parquet_schema('${files[0]}') where name in ('position','time','stream')`)).getRowObjectsJson();
      expect(ids).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'stream', field_id: '1' }),
          expect.objectContaining({ name: 'position', field_id: '3', type: 'INT64' }),
          expect.objectContaining({ name: 'time', field_id: '4', converted_type: 'TIMESTAMP_MICROS' }),
        ]),
      );
      const hint = await readFile(join(dir, 'metadata', 'version-hint.text'), 'utf8');
      expect(Number(hint)).toBe(table.version);

      // A table holds the types it was created for; other types go to another table.
      const mismatch = await exportIceberg(registry, { types: ['OrderPlaced'], table: dir }).catch((e: unknown) => e);
      expect(isStrandError(mismatch, 'STRAND_ICEBERG_TABLE_MISMATCH')).toBe(true);
      expect((mismatch as { details: unknown }).details).toMatchObject({ held: 'OrderPlaced,Shipped', requested: ['OrderPlaced'] });
    } finally {
      db.closeSync();
      await log.close();
    }
  });
});
