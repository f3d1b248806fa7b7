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
import { S3ObjectStore } from './object-store/s3.js';
import { S3Level } from './s3-level.js';

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
 * are written into the WAL while the previous WAL PUT is under way. Safe because `S3Level`
 * applies a batch when `batch()` is called, stores WAL objects in order and fails every later
 * batch once one fails (docs/design/0005).
 */
export const s3LogDefaults = { pipelineDepth: 4 } as const satisfies Partial<EventLogOptions>;

/**
 * Opens an event log on S3 from a URL (with {@link s3LogDefaults}). The log owns the `S3Level` and closes it on `close()`.
 *
 * @example
 * ```ts
 * const log = await openS3Log('s3://my-bucket/logs/orders/?region=eu-west-1');
 * ```
 */
export async function openS3Log(url: string, options: Omit<EventLogOptions, 'store' | 'ownsStore'> = {}): Promise<EventLog> {
  const loc = parseS3Url(url);
  const store = new S3ObjectStore({ bucket: loc.bucket, region: loc.region, endpoint: loc.endpoint });
  const level = new S3Level({
    store,
    prefix: loc.prefix,
    readOnly: loc.readOnly,
    ...(loc.flushIntervalMs === undefined ? {} : { flushIntervalMs: loc.flushIntervalMs }),
    keyEncoding: 'view',
    valueEncoding: 'view',
  } as never);
  try {
    return await EventLog.open({ ...s3LogDefaults, ...(loc.durability === undefined ? {} : { durability: loc.durability }), ...options, store: level, ownsStore: true });
  } catch (error) {
    await level.close().catch(() => {});
    throw error;
  }
}
