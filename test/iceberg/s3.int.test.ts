import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog, SchemaRegistry } from '@strand/core';
import { exportedPosition, exportIceberg, IcebergTable, ObjectStoreTableIO } from '@strand/iceberg';
import { ensureRgw, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
import { icebergRead } from 'icebird';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { metadataProblems, serveTables } from '../support/iceberg.js';

// Tables in a bucket of the throw-away Ceph RGW: commits by PUT with If-None-Match: *.
describe('Iceberg tables on S3 (RGW)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'strand-iceberg-s3-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('exports to s3://, commits with conditional PUTs (one racing create wins), and icebird reads the rows', async () => {
    const env = await ensureRgw();
    const store = rgwStore(env);
    const prefix = uniquePrefix('iceberg').replace(/\/$/, '');
    const io = new ObjectStoreTableIO(store, env.bucket, prefix);
    expect(io.location).toBe(`s3://${env.bucket}/${prefix}`);
    const restore = serveTables([{ bucket: env.bucket, get: (key) => store.get(key) }]);
    const log = await openLog({ path: join(root, 'log') });
    try {
      // The commit primitive: of two creates of one key, exactly one succeeds.
      const results = await Promise.all([io.create('metadata/race.json', Buffer.from('a')), io.create('metadata/race.json', Buffer.from('b'))]);
      expect(results.filter(Boolean)).toHaveLength(1);
      await io.delete('metadata/race.json');

      const registry = await SchemaRegistry.open(log);
      await registry.register('Paid', 1, z.object({ invoice: z.string(), amount: z.number() }));
      for (let i = 0; i < 120; i++) await log.append(`inv/${i % 6}`, [{ type: 'Paid', data: { invoice: `i${i}`, amount: i / 4 } }]);
      const first = await exportIceberg(registry, { types: ['Paid'], table: io, commitEvery: 50 });
      expect(first.snapshots).toBe(3);

      // The same table through its URL (the way the CLI opens it), continuing from the summary.
      for (let i = 120; i < 130; i++) await log.append(`inv/${i % 6}`, [{ type: 'Paid', data: { invoice: `i${i}`, amount: i / 4 } }]);
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey });
      const url = `s3://${env.bucket}/${prefix}?endpoint=${encodeURIComponent(env.endpoint)}&region=${env.region}`;
      const second = await exportIceberg(registry, { types: ['Paid'], table: url });
      expect(second).toMatchObject({ from: first.to + 1, rows: 10, snapshots: 1 });

      const table = (await IcebergTable.load(io))!;
      expect(metadataProblems(table.metadata as unknown as Record<string, unknown>)).toEqual([]);
      expect(exportedPosition(table.metadata)).toBe(130);
      expect(table.metadata.snapshots[0]!['manifest-list']).toMatch(new RegExp(`^s3://${env.bucket}/${prefix}/metadata/snap-`));
      const rows = await icebergRead({ tableUrl: io.location });
      expect(rows.map((r) => [Number(r.position), r.invoice, r.amount]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(Array.from({ length: 130 }, (_, i) => [i + 1, `i${i}`, i / 4]));
    } finally {
      restore();
      await log.close();
    }
  });
});
