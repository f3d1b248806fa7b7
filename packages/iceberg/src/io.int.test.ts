import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileTableIO, relativeOf, uriOf } from './io.js';

describe('FileTableIO', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'strand-iceberg-io-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('creates a file exclusively: of racing creates exactly one wins, and its bytes are the file', async () => {
    const io = new FileTableIO(join(root, 't'));
    for (let round = 0; round < 10; round++) {
      const path = `metadata/v${round}.metadata.json`;
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => io.create(path, Buffer.from(`writer-${i}`))));
      expect(results.filter(Boolean), `round ${round}`).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(Buffer.from((await io.read(path))!).toString()).toBe(`writer-${winner}`);
    }
    // No temporary files are left behind.
    expect((await readdir(join(root, 't', 'metadata'))).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('maps table paths to file:// URIs and back, and refuses paths outside the table', async () => {
    const io = new FileTableIO(join(root, 'u'));
    const uri = uriOf(io, 'data/a.parquet');
    expect(uri).toMatch(/^file:\/\/\/.*\/u\/data\/a\.parquet$/);
    expect(relativeOf(io, uri)).toBe('data/a.parquet');
    expect(relativeOf(io, 'file:///elsewhere/a.parquet')).toBeUndefined();
    await expect(io.read('../escape')).rejects.toThrow(/Not a table path/);
    await io.write('data/x/y.bin', new Uint8Array([1, 2]));
    expect((await io.list('data/')).map((f) => [f.path, f.size])).toEqual([['data/x/y.bin', 2]]);
    await io.delete('data/x/y.bin');
    expect(await io.read('data/x/y.bin')).toBeUndefined();
  });
});
