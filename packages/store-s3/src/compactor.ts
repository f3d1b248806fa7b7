/**
 * Compaction: merges all L0 tables with the L1 tables in their key span into new L1 tables.
 * L1 is the bottom level, so tombstones, range tombstones and everything they hide are dropped,
 * as are overwritten values: deleted data leaves the bucket once GC removes the inputs.
 *
 * @module
 */
import { compareBytes } from './bytes.js';
import type { KeyRange } from './range.js';
import { rangeOverlaps } from './range.js';
import { MergedScan } from './read-path.js';
import { SstBuilder } from './sst/builder.js';
import type { SstBuildOptions, SstSummary } from './sst/builder.js';
import type { TableHandle } from './tables.js';

/** The inputs of one compaction. */
export interface CompactionPlan {
  /** L0 tables merged (all of L0 when the plan was made), newest first. */
  l0: TableHandle[];
  /** The contiguous span of L1 tables that the L0 tables' key hull touches. */
  l1: TableHandle[];
}

/** The key hull of the L0 tables: point keys and range tombstones (which may be unbounded). */
async function hullOf(l0: TableHandle[]): Promise<KeyRange | undefined> {
  let hull: KeyRange | undefined;
  const widen = (r: KeyRange): void => {
    if (!hull) {
      hull = { ...r };
      return;
    }
    if (hull.start !== undefined && (r.start === undefined || compareBytes(r.start, hull.start) < 0)) {
      hull.start = r.start;
      hull.startInclusive = true;
    }
    if (hull.end !== undefined && (r.end === undefined || compareBytes(r.end, hull.end) > 0)) {
      hull.end = r.end;
      hull.endInclusive = true;
    }
  };
  for (const t of l0) {
    if (t.minKey !== undefined) widen({ start: t.minKey, startInclusive: true, end: t.maxKey, endInclusive: true });
    if (t.meta.rangeDeletes) for (const rt of (await t.reader()).rangeTombstones) widen(rt);
  }
  // Inclusive hull bounds are conservative: choosing one L1 table too many is harmless.
  if (hull) {
    hull.startInclusive = true;
    hull.endInclusive = true;
  }
  return hull;
}

/** Picks the L1 span to merge with `l0` (every L1 table inside the L0 hull, contiguous). */
export async function planCompaction(l0: TableHandle[], l1: TableHandle[]): Promise<CompactionPlan> {
  const hull = await hullOf(l0);
  if (!hull) return { l0, l1: [] };
  let first = -1;
  let last = -1;
  l1.forEach((t, i) => {
    if (rangeOverlaps(hull, t.minKey as Uint8Array, t.maxKey as Uint8Array)) {
      if (first < 0) first = i;
      last = i;
    }
  });
  return { l0, l1: first < 0 ? [] : l1.slice(first, last + 1) };
}

/**
 * Merges a plan into sorted, non-overlapping output tables of about `targetBytes` each, handing
 * each to `emit` (which stores it) as soon as it is complete. `shouldStop` aborts between tables.
 */
export async function runCompaction(
  plan: CompactionPlan,
  build: SstBuildOptions,
  targetBytes: number,
  emit: (bytes: Buffer, summary: SstSummary) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  const scan = new MergedScan(
    { mems: [], l0: plan.l0, l1: plan.l1 },
    { range: { startInclusive: true, endInclusive: true }, reverse: false, readaheadBytes: 4 * 1024 * 1024 },
  );
  await scan.start();
  let builder = new SstBuilder(build);
  for (;;) {
    const e = await scan.next();
    if (!e) break;
    builder.add(e[0], e[1]);
    if (builder.estimatedBytes >= targetBytes) {
      const out = builder.finish();
      await emit(out.bytes, out.summary);
      if (shouldStop()) throw new Error('compaction aborted');
      builder = new SstBuilder(build);
    }
  }
  if (builder.entryCount > 0) {
    const out = builder.finish();
    await emit(out.bytes, out.summary);
  }
}
