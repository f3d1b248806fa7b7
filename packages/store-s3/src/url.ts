/**
 * Opening an event log on S3 from a URL, following AWS conventions: credentials from the SDK's
 * chain (environment, profile, SSO, instance metadata), region from the URL or `AWS_REGION`,
 * endpoint and path-style for S3-compatible stores.
 *
 *   s3://BUCKET/PREFIX/                       AWS S3 (region from AWS_REGION or ?region=)
 *   s3://BUCKET/PREFIX/?endpoint=http://127.0.0.1:9000&region=us-east-1     MinIO, RGW, R2...
 *   ...&readOnly=true                          a follower (reads only, never fences the writer)
 *   ...&flushIntervalMs=0&durability=buffered  group-commit window; acknowledge before the WAL PUT
 *
 * Endpoint also comes from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (the SDKs' convention).
 *
 * @module
 */
import { EventLog, type EventLogOptions, InvalidArgumentError } from '@strand/core';
import { S3ObjectStore, type S3ObjectStoreOptions } from './object-store/s3.js';
import type { ObjectStore } from './object-store/types.js';
import { S3Level, type S3LevelOptions } from './s3-level.js';

/** What a `s3://` URL says. */
export interface S3Location {
  bucket: string;
  prefix: string;
  region: string | undefined;
  endpoint: string | undefined;
  readOnly: boolean;
  flushIntervalMs: number | undefined;
  durability: 'sync' | 'buffered' | undefined;
}

/** Options of {@link openS3Log}: the event log's options, plus how to reach and tune the store. */
export interface OpenS3LogOptions extends Omit<EventLogOptions, 'store' | 'ownsStore'> {
  /** Static credentials for the `S3ObjectStore` built from the URL (default: the AWS credential chain). */
  credentials?: S3ObjectStoreOptions['credentials'];
  /** Further `S3ObjectStore` options (timeouts, sockets, `directPut`...). */
  objectStoreOptions?: Omit<S3ObjectStoreOptions, 'bucket' | 'region' | 'endpoint' | 'credentials'>;
  /** An object store to use instead of one built from the URL (e.g. your own `S3ObjectStore`, or `InMemoryObjectStore` in tests); the URL then gives only the prefix and options. */
  objectStore?: ObjectStore;
  /** `S3Level` engine options (`walPutsInFlight`, `memtableBytes`, `blockCacheBytes`...), over the URL's. */
  engine?: Omit<S3LevelOptions<Uint8Array, Uint8Array>, 'store' | 'prefix' | 'keyEncoding' | 'valueEncoding'>;
}

/** An event log on S3 and the `S3Level` under it (for `engineStats`, request counts, GC). */
export interface S3Log {
  /** The event log; closing it closes the `S3Level`. */
  readonly log: EventLog;
  /** The store under the log. */
  readonly level: S3Level<Uint8Array, Uint8Array>;
}

/** Parses an `s3://bucket/prefix/?options` URL; throws `STRAND_INVALID_ARGUMENT` naming the fix. */
export function parseS3Url(url: string): S3Location {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`Not a URL: ${String(url)}. Use s3://BUCKET/PREFIX/ (add ?endpoint=http://host:port for MinIO, R2 or RGW).`);
  }
  if (u.protocol !== 's3:' || u.hostname === '') throw new InvalidArgumentError(`Expected s3://BUCKET/PREFIX/, got ${url}.`);
  let prefix = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  const q = u.searchParams;
  const known = new Set(['endpoint', 'region', 'readOnly', 'flushIntervalMs', 'durability']);
  for (const k of q.keys()) if (!known.has(k)) throw new InvalidArgumentError(`Unknown S3 URL option ${k}; known: ${[...known].join(', ')}.`);
  const flush = q.get('flushIntervalMs');
  const durability = q.get('durability');
  if (durability !== null && durability !== 'sync' && durability !== 'buffered') throw new InvalidArgumentError('durability must be sync (acknowledge once the WAL object is stored) or buffered.');
  if (flush !== null && !/^\d+$/.test(flush)) throw new InvalidArgumentError('flushIntervalMs must be an integer >= 0.');
  return {
    bucket: u.hostname,
    prefix,
    region: q.get('region') ?? undefined,
    endpoint: q.get('endpoint') ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? undefined,
    readOnly: q.get('readOnly') === 'true',
    flushIntervalMs: flush === null ? undefined : Number(flush),
    durability: (durability as 'sync' | 'buffered' | null) ?? undefined,
  };
}

/**
 * Event-log options for a log on an `S3Level`: four group commits in flight, so the next groups
 * are written into the WAL while the previous WAL PUT is under way. `EventLog.open` now takes this
 * from the store itself (`S3Level.strandPipelineDepth`); kept for callers that spread it.
 */
export const s3LogDefaults = { pipelineDepth: 4 } as const satisfies Partial<EventLogOptions>;

/**
 * Opens an event log on S3 from a URL with the fast, safe defaults (WAL PUTs as soon as a slot
 * is free, four group commits in flight, acknowledged once stored) and returns it with its
 * `S3Level`. The log owns the `S3Level` and closes it on `close()`.
 *
 * @example
 * ```ts
 * const { log, level } = await openS3Log('s3://my-bucket/logs/orders/?region=eu-west-1');
 * level.engineStats;  // WAL PUTs, flushes, compactions...
 * ```
 */
export async function openS3Log(url: string, options: OpenS3LogOptions = {}): Promise<S3Log> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('openS3Log options must be an object.');
  const loc = parseS3Url(url);
  const { credentials, objectStoreOptions, objectStore, engine, ...logOptions } = options;
  const store =
    objectStore ??
    new S3ObjectStore({ ...objectStoreOptions, bucket: loc.bucket, region: loc.region, endpoint: loc.endpoint, ...(credentials === undefined ? {} : { credentials }) });
  const level = new S3Level<Uint8Array, Uint8Array>({
    ...(loc.flushIntervalMs === undefined ? {} : { flushIntervalMs: loc.flushIntervalMs }),
    ...engine,
    store,
    prefix: loc.prefix,
    readOnly: engine?.readOnly ?? loc.readOnly,
    keyEncoding: 'view',
    valueEncoding: 'view',
  } as never);
  try {
    const log = await EventLog.open({ ...(loc.durability === undefined ? {} : { durability: loc.durability }), ...logOptions, store: level, ownsStore: true });
    return { log, level };
  } catch (error) {
    await level.close().catch(() => {});
    throw error;
  }
}
