/**
 * Test helpers for Iceberg tables: lets `icebird` (an independent reader that fetches every file
 * by URL) read tables in a directory (`file://`) or a bucket (its `s3://` paths become
 * `https://BUCKET.s3.amazonaws.com/KEY`, answered from the given object store), and checks table
 * metadata against the required fields of the Iceberg spec (format version 2).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** A bucket icebird may read, by name. */
export interface ServedBucket {
  bucket: string;
  get(key: string): Promise<Uint8Array | undefined>;
}

/** Routes `fetch` for file:// URLs and the given buckets; returns the function that restores it. */
export function serveTables(buckets: readonly ServedBucket[] = []): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let bytes: Uint8Array | undefined;
    if (url.startsWith('file://')) bytes = await readFile(fileURLToPath(url)).catch(() => undefined);
    else {
      const m = /^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.*)$/.exec(url);
      const b = m ? buckets.find((x) => x.bucket === m[1]) : undefined;
      if (!m || !b) return original(input, init);
      bytes = await b.get(decodeURIComponent(m[2]!));
    }
    if (bytes === undefined) return new Response(null, { status: 404, statusText: 'Not Found' });
    return new Response(new Uint8Array(bytes), { status: 200, headers: { 'content-length': String(bytes.byteLength) } });
  };
  return () => {
    globalThis.fetch = original;
  };
}

const has = (o: Record<string, unknown>, k: string, type: string): string[] => {
  const v = o[k];
  if (v === undefined || v === null) return [`missing ${k}`];
  if (type === 'array' ? !Array.isArray(v) : typeof v !== type) return [`${k} is not ${type}`];
  return [];
};

/**
 * Every problem of a v2 table metadata object against the spec's required fields (table
 * metadata, schemas with field ids, partition specs, snapshots, snapshot log, metadata log).
 */
export function metadataProblems(m: Record<string, unknown>): string[] {
  const p: string[] = [];
  if (m['format-version'] !== 2) p.push('format-version is not 2');
  for (const [k, t] of [
    ['table-uuid', 'string'],
    ['location', 'string'],
    ['last-sequence-number', 'number'],
    ['last-updated-ms', 'number'],
    ['last-column-id', 'number'],
    ['schemas', 'array'],
    ['current-schema-id', 'number'],
    ['partition-specs', 'array'],
    ['default-spec-id', 'number'],
    ['last-partition-id', 'number'],
    ['sort-orders', 'array'],
    ['default-sort-order-id', 'number'],
  ] as const)
    p.push(...has(m, k, t));
  const schemas = (m.schemas ?? []) as Array<Record<string, unknown>>;
  const ids = new Set<number>();
  for (const s of schemas) {
    p.push(...has(s, 'schema-id', 'number'));
    if (s.type !== 'struct') p.push('schema type is not struct');
    for (const f of (s.fields ?? []) as Array<Record<string, unknown>>) {
      p.push(...has(f, 'id', 'number'), ...has(f, 'name', 'string'), ...has(f, 'required', 'boolean'));
      if (f.type === undefined) p.push(`field ${String(f.name)} has no type`);
      if ((f.id as number) > (m['last-column-id'] as number)) p.push(`field id ${String(f.id)} > last-column-id`);
      ids.add(f.id as number);
    }
  }
  if (!schemas.some((s) => s['schema-id'] === m['current-schema-id'])) p.push('current-schema-id not in schemas');
  for (const spec of (m['partition-specs'] ?? []) as Array<Record<string, unknown>>) {
    p.push(...has(spec, 'spec-id', 'number'), ...has(spec, 'fields', 'array'));
    for (const f of (spec.fields ?? []) as Array<Record<string, unknown>>) {
      p.push(...has(f, 'source-id', 'number'), ...has(f, 'field-id', 'number'), ...has(f, 'name', 'string'), ...has(f, 'transform', 'string'));
      if (!ids.has(f['source-id'] as number)) p.push(`partition source-id ${String(f['source-id'])} is no field`);
      if ((f['field-id'] as number) > (m['last-partition-id'] as number)) p.push('partition field-id > last-partition-id');
    }
  }
  const snapshots = (m.snapshots ?? []) as Array<Record<string, unknown>>;
  for (const s of snapshots) {
    for (const [k, t] of [
      ['snapshot-id', 'number'],
      ['sequence-number', 'number'],
      ['timestamp-ms', 'number'],
      ['manifest-list', 'string'],
      ['summary', 'object'],
    ] as const)
      p.push(...has(s, k, t));
    if (typeof (s.summary as Record<string, unknown> | undefined)?.operation !== 'string') p.push('snapshot summary has no operation');
    if ((s['sequence-number'] as number) > (m['last-sequence-number'] as number)) p.push('snapshot sequence-number > last-sequence-number');
  }
  const current = m['current-snapshot-id'];
  if (current !== undefined && current !== null && current !== -1) {
    if (!snapshots.some((s) => s['snapshot-id'] === current)) p.push('current-snapshot-id not in snapshots');
    const main = (m.refs as Record<string, Record<string, unknown>> | undefined)?.main;
    if (main?.['snapshot-id'] !== current || main?.type !== 'branch') p.push('refs.main does not point at the current snapshot');
    const log = (m['snapshot-log'] ?? []) as Array<Record<string, unknown>>;
    if (log.at(-1)?.['snapshot-id'] !== current) p.push('snapshot-log does not end with the current snapshot');
  }
  for (const e of (m['metadata-log'] ?? []) as Array<Record<string, unknown>>) p.push(...has(e, 'metadata-file', 'string'), ...has(e, 'timestamp-ms', 'number'));
  return p;
}
