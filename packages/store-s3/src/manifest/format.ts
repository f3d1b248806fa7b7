/**
 * The manifest: which tables make up the store, where WAL replay starts, and the writer epoch.
 * Each version is a new object `manifest/<20-digit version>` created with `If-None-Match: *`, so
 * two writers can never both write the same version: the loser learns it was fenced. This module is
 * the format (docs/design/0005, "Manifest"); `invariants.ts` checks it, `store.ts` reads and writes it.
 *
 * @module
 */
import { CorruptionError } from '@strand/core';
import { checkShape } from './invariants.js';

/** The manifest format this code writes. */
export const MANIFEST_FORMAT = 1;

/** What the manifest records about one SST. */
export interface TableMeta {
  /** Unique table id; the object is `sst/<id>.sst`. */
  id: string;
  /** Object size in bytes. */
  size: number;
  /** Point entries. */
  entries: number;
  /** Smallest and largest point key (base64), absent when the table has none. */
  min?: string;
  max?: string;
  /** True when the table holds range tombstones (they may reach beyond min/max). */
  rangeDeletes?: boolean;
}

/** One manifest version. */
export interface Manifest {
  format: number;
  /** Version number = the object's name. */
  version: number;
  /** Epoch of the writer that owns the store; opening a writer increments it. */
  epoch: number;
  /** First WAL slot not yet in a table: replay starts here. */
  walReplayFrom: number;
  /** Next table sequence number (table ids are unique per epoch and sequence). */
  nextSstSeq: number;
  /** Level 0: one table per memtable flush, newest first, ranges may overlap. */
  l0: TableMeta[];
  /** Level 1: one sorted run, non-overlapping, in key order. */
  l1: TableMeta[];
}

/** The manifest of an empty store. */
export function emptyManifest(): Manifest {
  return { format: MANIFEST_FORMAT, version: 1, epoch: 1, walReplayFrom: 1, nextSstSeq: 1, l0: [], l1: [] };
}

/** Object key of a manifest version. */
export function manifestKey(prefix: string, version: number): string {
  return `${prefix}manifest/${String(version).padStart(20, '0')}`;
}

/** Version of a manifest object key, or undefined for a foreign key. */
export function manifestVersionOf(prefix: string, key: string): number | undefined {
  const m = /^manifest\/(\d{20})$/.exec(key.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

/** Serialises a manifest. */
export function encodeManifest(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(m));
}

/** Parses and checks a manifest object. */
export function decodeManifest(bytes: Uint8Array, what = 'manifest'): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest;
  } catch (err) {
    throw new CorruptionError(`${what}: not JSON: ${(err as Error).message}`);
  }
  if (m === null || typeof m !== 'object' || m.format !== MANIFEST_FORMAT) {
    throw new CorruptionError(`${what}: unsupported manifest format ${String((m as Manifest | null)?.format)}`);
  }
  try {
    checkShape(m);
  } catch (err) {
    throw new CorruptionError(`${what}: ${(err as Error).message}`);
  }
  return m;
}

/** Decodes a table's key bound. */
export function keyOf(b64: string): Buffer {
  return Buffer.from(b64, 'base64');
}
