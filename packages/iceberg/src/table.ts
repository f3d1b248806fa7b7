/**
 * An Iceberg v2 table's metadata and its commit protocol: versioned `metadata/v<N>.metadata.json`
 * files, where committing version N+1 is creating that file exclusively (a hard link on a file
 * system, `If-None-Match: *` on S3). Whoever creates it first wins; a loser re-reads the table
 * and retries on the new metadata. `metadata/version-hint.text` names the latest version for
 * readers and is only a hint: the next versions are probed from it.
 * Design: docs/design/0009-iceberg.md.
 *
 * @module
 */
import { randomInt, randomUUID } from 'node:crypto';
import { type ManifestFile, type PartitionSpec, readAvro } from './avro.js';
import { IcebergCorruptionError, IcebergTableMismatchError } from './errors.js';
import { type TableIO, relativeOf, uriOf } from './io.js';
import { type IcebergSchema, nameMapping } from './schema.js';

/** Snapshot summary keys Strand writes besides the spec's. */
export const SUMMARY_POSITION = 'strand.position';

/** A snapshot (spec: Snapshots). */
export interface Snapshot {
  'snapshot-id': number;
  'parent-snapshot-id'?: number;
  'sequence-number': number;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: { operation: 'append' | 'replace' | 'overwrite' | 'delete' } & Record<string, string>;
  'schema-id': number;
}

/** Table metadata, format version 2 (spec: Table Metadata Fields). */
export interface TableMetadata {
  'format-version': 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number;
  'last-updated-ms': number;
  'last-column-id': number;
  schemas: IcebergSchema[];
  'current-schema-id': number;
  'partition-specs': PartitionSpec[];
  'default-spec-id': number;
  'last-partition-id': number;
  properties: Record<string, string>;
  'current-snapshot-id'?: number;
  snapshots: Snapshot[];
  'snapshot-log': Array<{ 'snapshot-id': number; 'timestamp-ms': number }>;
  'metadata-log': Array<{ 'metadata-file': string; 'timestamp-ms': number }>;
  'sort-orders': Array<{ 'order-id': number; fields: unknown[] }>;
  'default-sort-order-id': number;
  refs: Record<string, { 'snapshot-id': number; type: 'branch' | 'tag' }>;
}

/**
 * Metadata files parsed lately, by table location and version, with their bytes: a metadata file
 * never changes once created, so a handle that reads a version again (a new `exportIceberg` on the
 * same table) compares the bytes and skips the parse. The bytes are compared, not trusted by
 * name, because a table removed and created again reuses the names. A few entries: the latest
 * versions of the tables this process writes.
 */
const parsedMetadata = new Map<string, { bytes: Uint8Array; metadata: TableMetadata }>();
const PARSED_MAX = 8;

function rememberParsed(location: string, version: number, bytes: Uint8Array, metadata: TableMetadata): void {
  const key = `${location}#${version}`;
  parsedMetadata.delete(key);
  parsedMetadata.set(key, { bytes, metadata });
  if (parsedMetadata.size > PARSED_MAX) parsedMetadata.delete(parsedMetadata.keys().next().value as string);
}

/**
 * JSON bytes made once: of each snapshot and snapshot-log entry (immutable objects carried from
 * one metadata to the next), and of each such array, so that an array that is the previous one
 * plus an entry (what a commit makes) costs one copy of the previous bytes and the new entry's
 * text. The file still holds every snapshot, as the spec asks; only the work of making it is saved.
 */
const itemBytes = new WeakMap<object, Buffer>();
const arrayBytes = new WeakMap<readonly object[], Buffer>();
/** The last array made whose last element is the key: the candidate prefix of the next one. */
const arrayEndingWith = new WeakMap<object, readonly object[]>();
const COMMA = Buffer.from(',');

function bytesOfItem(x: object): Buffer {
  let b = itemBytes.get(x);
  if (b === undefined) {
    b = Buffer.from(JSON.stringify(x));
    itemBytes.set(x, b);
  }
  return b;
}

/** The JSON of an array's elements, without the brackets. */
function bytesOfElements(arr: readonly object[]): Buffer {
  const hit = arrayBytes.get(arr);
  if (hit !== undefined) return hit;
  const n = arr.length;
  const prev = n > 1 ? arrayEndingWith.get(arr[n - 2]!) : undefined;
  let out: Buffer;
  if (prev !== undefined && prev.length === n - 1 && prev.every((x, i) => x === arr[i])) {
    out = Buffer.concat([arrayBytes.get(prev)!, COMMA, bytesOfItem(arr[n - 1]!)]);
  } else {
    const parts: Buffer[] = [];
    arr.forEach((x, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(bytesOfItem(x));
    });
    out = Buffer.concat(parts);
  }
  arrayBytes.set(arr, out);
  if (n > 0) arrayEndingWith.set(arr[n - 1]!, arr);
  return out;
}

/**
 * The metadata as JSON bytes: byte for byte what `JSON.stringify` gives, with `snapshots` and
 * `snapshot-log` (the parts that grow with history) made from bytes kept from earlier commits
 * ({@link bytesOfElements}).
 */
export function serializeMetadata(m: TableMetadata): Buffer {
  const parts: Buffer[] = [];
  let text = '{';
  let first = true;
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    if (k === 'snapshots' || k === 'snapshot-log') {
      parts.push(Buffer.from(`${text}[`), bytesOfElements(v as object[]));
      text = ']';
    } else text += JSON.stringify(v);
  }
  parts.push(Buffer.from(`${text}}`));
  return Buffer.concat(parts);
}

/** Previous metadata files kept in `metadata-log` (the reference implementation's default). */
export const METADATA_LOG_MAX = 100;

/** A fresh snapshot id: positive, random, below 2^53 so JSON readers in every language keep it exact. */
export function newSnapshotId(existing: readonly Snapshot[] = []): number {
  for (;;) {
    const id = randomInt(1, 2 ** 21) * 2 ** 32 + randomInt(0, 2 ** 32);
    if (!existing.some((s) => s['snapshot-id'] === id)) return id;
  }
}

/** The partition spec of a table holding `types`: day of the event time, and the type when there are several. */
export function partitionSpecFor(types: readonly string[]): PartitionSpec {
  const fields: PartitionSpec['fields'] = [{ 'source-id': 4, 'field-id': 1000, name: 'time_day', transform: 'day' }];
  if (types.length > 1) fields.push({ 'source-id': 6, 'field-id': 1001, name: 'type', transform: 'identity' });
  return { 'spec-id': 0, fields };
}

const metadataPath = (version: number) => `metadata/v${version}.metadata.json`;
const HINT = 'metadata/version-hint.text';

/** The current schema of a metadata. */
export function currentSchema(m: TableMetadata): IcebergSchema {
  const s = m.schemas.find((x) => x['schema-id'] === m['current-schema-id']);
  if (s === undefined) throw new IcebergCorruptionError(m.location, `current-schema-id ${m['current-schema-id']} is not in schemas`);
  return s;
}

/** The current snapshot, if any. */
export function currentSnapshot(m: TableMetadata): Snapshot | undefined {
  const id = m['current-snapshot-id'];
  return id === undefined || id === -1 ? undefined : m.snapshots.find((s) => s['snapshot-id'] === id);
}

/** The last log position the table holds every event up to (0 when empty). */
export function exportedPosition(m: TableMetadata): number {
  const p = currentSnapshot(m)?.summary[SUMMARY_POSITION];
  return p === undefined ? 0 : Number(p);
}

/**
 * The metadata without the snapshots not in `keep`, and without the snapshot-log entries up to the
 * last dropped one (the spec: log entries before an expired snapshot go with it).
 */
export function withoutSnapshots(m: TableMetadata, keep: ReadonlySet<number>): TableMetadata {
  const log = m['snapshot-log'];
  let lastExpired = -1;
  log.forEach((e, i) => {
    if (!keep.has(e['snapshot-id'])) lastExpired = i;
  });
  return { ...m, snapshots: m.snapshots.filter((s) => keep.has(s['snapshot-id'])), 'snapshot-log': log.slice(lastExpired + 1) };
}

/**
 * The snapshots to drop so that at most `retain` remain: the oldest by sequence number, never
 * the current one or one a ref points at.
 */
export function snapshotsOverRetention(m: TableMetadata, retain: number): Snapshot[] {
  if (m.snapshots.length <= retain) return [];
  const pinned = new Set([...(m['current-snapshot-id'] === undefined ? [] : [m['current-snapshot-id']]), ...Object.values(m.refs).map((r) => r['snapshot-id'])]);
  const oldest = [...m.snapshots].sort((a, b) => a['sequence-number'] - b['sequence-number']).filter((s) => !pinned.has(s['snapshot-id']));
  return oldest.slice(0, Math.max(0, m.snapshots.length - Math.max(retain, pinned.size)));
}

const manifestListCache = new Map<string, ManifestFile[]>();

/** A table handle: the metadata version it last read, and the commit primitive. */
export class IcebergTable {
  /** Manifest lists read or written lately, by URI (immutable, and named uniquely per commit): shared by every handle. */
  private readonly manifestLists = manifestListCache;

  private constructor(
    /** Where the table lives. */
    readonly io: TableIO,
    private meta: TableMetadata,
    private ver: number,
  ) {}

  /** The metadata this handle read or committed last. */
  get metadata(): TableMetadata {
    return this.meta;
  }

  /** Its version number (`v<N>.metadata.json`). */
  get version(): number {
    return this.ver;
  }

  private static async readVersion(io: TableIO, version: number): Promise<TableMetadata | undefined> {
    const bytes = await io.read(metadataPath(version));
    if (bytes === undefined) return undefined;
    const seen = parsedMetadata.get(`${io.location}#${version}`);
    if (seen !== undefined && Buffer.from(seen.bytes.buffer, seen.bytes.byteOffset, seen.bytes.byteLength).equals(bytes)) return seen.metadata;
    let m: TableMetadata;
    try {
      m = JSON.parse(Buffer.from(bytes).toString('utf8')) as TableMetadata;
    } catch (cause) {
      throw new IcebergCorruptionError(io.location, `${metadataPath(version)} is not JSON`, cause);
    }
    if (m['format-version'] !== 2) throw new IcebergTableMismatchError(io.location, `has format version ${String(m['format-version'])}; this exporter writes version 2 tables`);
    rememberParsed(io.location, version, bytes, m);
    return m;
  }

  /** The latest committed version, probing forward from the hint (or a listing when there is none). */
  private static async latest(io: TableIO, from: number): Promise<{ version: number; metadata: TableMetadata } | undefined> {
    let version = from;
    if (version === 0) {
      const hint = await io.read(HINT);
      const n = hint === undefined ? Number.NaN : Number.parseInt(Buffer.from(hint).toString('utf8'), 10);
      if (Number.isSafeInteger(n) && n > 0) version = n;
      else {
        for (const f of await io.list('metadata/')) {
          const m = /^metadata\/v(\d+)\.metadata\.json$/.exec(f.path);
          if (m) version = Math.max(version, Number(m[1]));
        }
      }
    }
    let found: TableMetadata | undefined = version > 0 ? await IcebergTable.readVersion(io, version) : undefined;
    if (found === undefined && version > 0) {
      // A hint ahead of the files (a table removed and re-created): fall back to a listing.
      if (from === 0) return IcebergTable.latestByListing(io);
      throw new IcebergCorruptionError(io.location, `${metadataPath(version)} disappeared`);
    }
    for (;;) {
      const next = await IcebergTable.readVersion(io, version + 1);
      if (next === undefined) break;
      found = next;
      version++;
    }
    return found === undefined ? undefined : { version, metadata: found };
  }

  private static async latestByListing(io: TableIO): Promise<{ version: number; metadata: TableMetadata } | undefined> {
    let version = 0;
    for (const f of await io.list('metadata/')) {
      const m = /^metadata\/v(\d+)\.metadata\.json$/.exec(f.path);
      if (m) version = Math.max(version, Number(m[1]));
    }
    if (version === 0) return undefined;
    return IcebergTable.latest(io, version);
  }

  /** Loads the table's latest metadata; `undefined` when there is no table at the location. */
  static async load(io: TableIO): Promise<IcebergTable | undefined> {
    const l = await IcebergTable.latest(io, 0);
    return l === undefined ? undefined : new IcebergTable(io, l.metadata, l.version);
  }

  /**
   * Loads the table, creating it (version 1, no snapshot) when there is none. When another
   * writer creates it at the same time, its table is loaded instead.
   */
  static async loadOrCreate(io: TableIO, init: { schema: IcebergSchema; lastColumnId: number; spec: PartitionSpec; properties: Record<string, string>; now: number }): Promise<IcebergTable> {
    const existing = await IcebergTable.load(io);
    if (existing) return existing;
    const m: TableMetadata = {
      'format-version': 2,
      'table-uuid': randomUUID(),
      location: io.location,
      'last-sequence-number': 0,
      'last-updated-ms': init.now,
      'last-column-id': init.lastColumnId,
      schemas: [init.schema],
      'current-schema-id': init.schema['schema-id'],
      'partition-specs': [init.spec],
      'default-spec-id': init.spec['spec-id'],
      'last-partition-id': Math.max(999, ...init.spec.fields.map((f) => f['field-id'])),
      properties: { 'write.format.default': 'parquet', 'write.metadata.previous-versions-max': String(METADATA_LOG_MAX), 'schema.name-mapping.default': nameMapping(init.schema), ...init.properties },
      snapshots: [],
      'snapshot-log': [],
      'metadata-log': [],
      'sort-orders': [{ 'order-id': 0, fields: [] }],
      'default-sort-order-id': 0,
      refs: {},
    };
    if (await io.create(metadataPath(1), Buffer.from(JSON.stringify(m)))) {
      await io.write(HINT, Buffer.from('1')).catch(() => undefined);
      return new IcebergTable(io, m, 1);
    }
    const other = await IcebergTable.load(io);
    if (!other) throw new IcebergCorruptionError(io.location, `${metadataPath(1)} exists but cannot be read`);
    return other;
  }

  /**
   * Re-reads the table: picks up versions other writers committed. Returns whether there were any.
   * Only the versions after the one held are read (a probe of the next one when there is none).
   */
  async refresh(): Promise<boolean> {
    const next = await IcebergTable.readVersion(this.io, this.ver + 1);
    if (next === undefined) return false;
    const l = await IcebergTable.latest(this.io, this.ver + 1);
    if (l === undefined || l.version === this.ver) return false;
    if (l.metadata['table-uuid'] !== this.meta['table-uuid']) throw new IcebergCorruptionError(this.io.location, `table-uuid changed from ${this.meta['table-uuid']} to ${l.metadata['table-uuid']}`);
    this.meta = l.metadata;
    this.ver = l.version;
    return true;
  }

  /**
   * Commits `next` as the version after the one this handle holds. Adds the metadata-log entry of
   * the current version and sets `last-updated-ms`. False when another writer committed that
   * version first (then {@link IcebergTable.refresh} and build again on the new metadata).
   */
  async tryCommit(next: TableMetadata, now: number): Promise<boolean> {
    const log = [...this.meta['metadata-log'], { 'metadata-file': uriOf(this.io, metadataPath(this.ver)), 'timestamp-ms': this.meta['last-updated-ms'] }];
    const max = Number(next.properties['write.metadata.previous-versions-max'] ?? METADATA_LOG_MAX);
    const m: TableMetadata = { ...next, 'last-updated-ms': Math.max(now, this.meta['last-updated-ms']), 'metadata-log': log.slice(Math.max(0, log.length - max)) };
    const bytes = serializeMetadata(m);
    if (!(await this.io.create(metadataPath(this.ver + 1), bytes))) return false;
    this.meta = m;
    this.ver++;
    rememberParsed(this.io.location, this.ver, bytes, m);
    await this.io.write(HINT, Buffer.from(String(this.ver))).catch(() => undefined);
    return true;
  }

  /** The manifest list of a snapshot (read once, then cached: manifest lists are immutable). */
  async manifestList(snapshot: Snapshot | undefined): Promise<ManifestFile[]> {
    if (snapshot === undefined) return [];
    const uri = snapshot['manifest-list'];
    const cached = this.manifestLists.get(uri);
    if (cached) return cached;
    const bytes = await this.read(uri);
    const list = await readAvro<ManifestFile>(bytes);
    this.manifestLists.set(uri, list);
    if (this.manifestLists.size > 64) this.manifestLists.delete(this.manifestLists.keys().next().value as string);
    return list;
  }

  /** Remembers a manifest list this handle wrote. */
  rememberManifestList(uri: string, list: ManifestFile[]): void {
    this.manifestLists.set(uri, list);
  }

  /** Reads a file of this table by its absolute URI. */
  async read(uri: string): Promise<Uint8Array> {
    const rel = relativeOf(this.io, uri);
    if (rel === undefined) throw new IcebergCorruptionError(this.io.location, `${uri} is outside the table location`);
    const bytes = await this.io.read(rel);
    if (bytes === undefined) throw new IcebergCorruptionError(this.io.location, `${uri} is missing`);
    return bytes;
  }
}
