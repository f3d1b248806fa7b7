/**
 * The manifest's invariants, checked on every manifest read and before every manifest write
 * (docs/design/0005-s3-engine.md, "Manifest invariants"; each check names its invariant, M1-M7).
 * A violation throws {@link ManifestInvariantError}: nothing is written, a bug must not corrupt
 * the store.
 *
 * @module
 */
import { compareBytes } from '../bytes.js';
import { ManifestInvariantError } from '../errors.js';
import type { Manifest, TableMeta } from './format.js';
import { MANIFEST_FORMAT } from './format.js';

const keyOf = (b64: string): Buffer => Buffer.from(b64, 'base64');

/** Checks one manifest on its own (M1-M5). */
export function checkShape(m: Manifest): void {
  // M1: counters are positive safe integers.
  const ints: (keyof Manifest)[] = ['version', 'epoch', 'walReplayFrom', 'nextSstSeq'];
  for (const k of ints) {
    const v = m[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ManifestInvariantError(`${k} is ${String(v)}`);
  }
  if (!Array.isArray(m.l0) || !Array.isArray(m.l1)) throw new ManifestInvariantError('levels are not arrays');
  // M2: every table is named once, with a valid id, a size and both bounds or none (min <= max).
  const seen = new Set<string>();
  for (const t of [...m.l0, ...m.l1]) {
    if (typeof t.id !== 'string' || !/^[0-9a-z-]+$/.test(t.id)) throw new ManifestInvariantError(`bad table id ${String(t.id)}`);
    if (seen.has(t.id)) throw new ManifestInvariantError(`table ${t.id} is listed twice`);
    seen.add(t.id);
    if (!Number.isSafeInteger(t.size) || t.size <= 0) throw new ManifestInvariantError(`table ${t.id} has size ${t.size}`);
    if ((t.min === undefined) !== (t.max === undefined)) throw new ManifestInvariantError(`table ${t.id} has one bound`);
    if (t.min !== undefined && t.max !== undefined && compareBytes(keyOf(t.min), keyOf(t.max)) > 0) {
      throw new ManifestInvariantError(`table ${t.id} has min > max`);
    }
  }
  // M3: L1 is one sorted run: keys in every table, no range tombstones, no overlap, in key order.
  for (let i = 0; i < m.l1.length; i++) {
    const t = m.l1[i] as TableMeta;
    if (t.min === undefined || t.max === undefined) throw new ManifestInvariantError(`L1 table ${t.id} has no keys`);
    if (t.rangeDeletes) throw new ManifestInvariantError(`L1 table ${t.id} has range tombstones`);
    const prev = m.l1[i - 1];
    if (prev?.max !== undefined && compareBytes(keyOf(prev.max), keyOf(t.min)) >= 0) {
      throw new ManifestInvariantError(`L1 tables ${prev.id} and ${t.id} overlap or are out of order`);
    }
  }
}

/**
 * Checks a manifest about to replace `prev` (M1-M7). `fencing` allows the epoch to grow by one
 * (a writer taking over); otherwise the epoch must not change.
 */
export function checkManifestTransition(prev: Manifest | undefined, next: Manifest, fencing: boolean): void {
  checkShape(next);
  if (next.format !== MANIFEST_FORMAT) throw new ManifestInvariantError(`format ${next.format}`);
  if (prev === undefined) return;
  // M4: versions grow: by one, or by more when void (torn) slots are skipped.
  if (next.version <= prev.version) throw new ManifestInvariantError(`version ${prev.version} -> ${next.version}`);
  // M5: the epoch is unchanged, or one more when a writer fences the previous one.
  const expectedEpoch = fencing ? prev.epoch + 1 : prev.epoch;
  if (next.epoch !== expectedEpoch) throw new ManifestInvariantError(`epoch ${prev.epoch} -> ${next.epoch}`);
  // M6: replay never moves back to WAL slots whose data may already be gone.
  if (next.walReplayFrom < prev.walReplayFrom) {
    throw new ManifestInvariantError(`walReplayFrom went back ${prev.walReplayFrom} -> ${next.walReplayFrom}`);
  }
  // M7: table sequence numbers are never reused.
  if (next.nextSstSeq < prev.nextSstSeq) throw new ManifestInvariantError('nextSstSeq went back');
}
