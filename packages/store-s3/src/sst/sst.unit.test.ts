import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BlockCache } from '../block-cache.js';
import { seededRandom } from '../clock.js';
import { CorruptionError } from '@strand/core';
import type { KeyRange } from '../range.js';
import { BloomFilter } from './bloom.js';
import { SstBuilder } from './builder.js';
import { FOOTER_SIZE, SST_FORMAT_VERSION, SST_MAGIC, decodeFooter } from './format.js';
import { SstReader } from './reader.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

function source(bytes: Uint8Array) {
  const calls: [number, number][] = [];
  const fn = async (start: number, end: number) => {
    calls.push([start, end]);
    return bytes.subarray(start, end);
  };
  return { fn, calls };
}

const k = (s: string) => Buffer.from(s);

/** The golden table's content: fixed, so its bytes are fixed. */
function goldenInput(): { entries: [Buffer, Buffer | null][]; ranges: KeyRange[] } {
  const entries: [Buffer, Buffer | null][] = [];
  for (let i = 0; i < 300; i++) {
    const key = k(`stream/${String(i).padStart(5, '0')}`);
    entries.push([key, i % 17 === 0 ? null : k(`event-${i}-${'x'.repeat(i % 40)}`)]);
  }
  const ranges: KeyRange[] = [
    { start: k('a'), startInclusive: true, end: k('b'), endInclusive: false },
    { start: k('tenant/9'), startInclusive: false, endInclusive: true },
  ];
  return { entries, ranges };
}

function buildGolden(compress: boolean): Buffer {
  const { entries, ranges } = goldenInput();
  const b = new SstBuilder({ blockBytes: 512, compress });
  for (const [key, value] of entries) b.add(key, value);
  for (const r of ranges) b.addRangeTombstone(r);
  return b.finish().bytes;
}

async function readAll(r: SstReader): Promise<[string, string | null][]> {
  const out: [string, string | null][] = [];
  for (let i = 0; i < r.handles.length; i++) {
    const block = await r.block(i);
    block.keys.forEach((key, j) => out.push([Buffer.from(key).toString(), block.values[j] ? Buffer.from(block.values[j] as Uint8Array).toString() : null]));
  }
  return out;
}

describe('SST format v1 (golden)', () => {
  if (process.env.STORE_S3_WRITE_GOLDEN === '1') {
    writeFileSync(fixture('sst-v1.golden'), buildGolden(false));
    writeFileSync(fixture('sst-v1-deflate.golden'), buildGolden(true));
  }

  it('the builder still writes the pinned bytes', () => {
    const golden = readFileSync(fixture('sst-v1.golden'));
    expect(buildGolden(false).equals(golden)).toBe(true);
  });

  for (const name of ['sst-v1.golden', 'sst-v1-deflate.golden']) {
    it(`the reader still reads ${name}`, async () => {
      const bytes = readFileSync(fixture(name));
      expect(bytes.subarray(bytes.length - 8).equals(SST_MAGIC)).toBe(true);
      const footer = decodeFooter(bytes.subarray(bytes.length - FOOTER_SIZE), name);
      expect(footer.version).toBe(SST_FORMAT_VERSION);
      const r = await SstReader.open('golden', bytes.length, source(bytes).fn, new BlockCache(1 << 20));
      const { entries, ranges } = goldenInput();
      expect(footer.entries).toBe(entries.length);
      expect(await readAll(r)).toEqual(entries.map(([key, v]) => [key.toString(), v ? v.toString() : null]));
      expect(r.rangeTombstones).toEqual(ranges);
      expect(await r.get(k('stream/00042'))).toEqual({ found: true, value: k('event-42-xx') });
      expect(await r.get(k('stream/00017'))).toEqual({ found: true, value: null });
      expect((await r.get(k('stream/99999'))).found).toBe(false);
    });
  }
});

describe('SST builder and reader', () => {
  it('round-trips random tables, point reads and bloom filters', async () => {
    const rnd = seededRandom(7);
    for (let round = 0; round < 20; round++) {
      const n = Math.floor(rnd() * 2000);
      const keys = new Set<string>();
      while (keys.size < n) keys.add(Math.floor(rnd() * 1e9).toString(36));
      const sorted = [...keys].sort((a, b) => Buffer.compare(k(a), k(b)));
      const b = new SstBuilder({ blockBytes: 256 + Math.floor(rnd() * 4096), compress: rnd() < 0.5 });
      for (const key of sorted) b.add(k(key), rnd() < 0.1 ? null : k(`v:${key}`));
      const { bytes, summary } = b.finish();
      expect(summary.entries).toBe(n);
      const src = source(bytes);
      const r = await SstReader.open(`t${round}`, bytes.length, src.fn, new BlockCache(1 << 20));
      expect(src.calls.length).toBe(1); // footer, index and bloom in one ranged GET
      for (const key of sorted.slice(0, 50)) expect((await r.get(k(key))).found).toBe(true);
      let falsePositives = 0;
      for (let i = 0; i < 1000; i++) if (r.mayContain(k(`absent-${i}`))) falsePositives++;
      expect(falsePositives).toBeLessThan(40);
    }
  });

  it('detects a flipped bit in a block (crc32)', async () => {
    const bytes = Buffer.from(buildGolden(false));
    bytes[10] = (bytes[10] as number) ^ 1;
    const r = await SstReader.open('bad', bytes.length, source(bytes).fn, new BlockCache(1 << 20));
    await expect(r.block(0)).rejects.toBeInstanceOf(CorruptionError);
  });

  it('rejects a truncated table and a wrong magic', async () => {
    const bytes = buildGolden(false);
    const cut = bytes.subarray(0, bytes.length - 3);
    await expect(SstReader.open('cut', cut.length, source(cut).fn, new BlockCache(1 << 20))).rejects.toBeInstanceOf(CorruptionError);
  });

  it('rejects keys out of order', () => {
    const b = new SstBuilder();
    b.add(k('b'), k('1'));
    expect(() => b.add(k('a'), k('2'))).toThrow(/increase/);
  });

  it('bloom filter has no false negatives', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => k(`key-${i}`));
    const f = BloomFilter.decode(BloomFilter.build(keys, keys.length).encode(), 'bloom');
    for (const key of keys) expect(f.mayContain(key)).toBe(true);
  });

  it('scans fetch runs of blocks in one GET (readahead)', async () => {
    const bytes = buildGolden(false);
    const src = source(bytes);
    const r = await SstReader.open('ra', bytes.length, src.fn, new BlockCache(1 << 20));
    src.calls.length = 0;
    await r.block(0, 1 << 20);
    for (let i = 0; i < r.handles.length; i++) await r.block(i, 1 << 20);
    expect(src.calls.length).toBe(1);
  });
});
