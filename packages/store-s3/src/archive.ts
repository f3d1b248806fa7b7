/**
 * The archive tier: truncated history written to immutable objects in the bucket, readable on
 * request. Plugs into `@strand/aggregate`'s retention policy as its `archive` hook.
 *
 * Layout: `<prefix>archive/<hex(stream)>/<first version, 16 digits>-<last version, 16 digits>.jsonl`,
 * one JSON event per line. Names are derived from the content's range, so a retried archive call
 * rewrites the same object (idempotent), and objects sort by version.
 *
 * @module
 */
import { InvalidArgumentError, type RecordedEvent } from '@strand/core';
import type { ObjectStore } from './object-store/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const pad = (n: number) => String(n).padStart(16, '0');

/** Archive hook + reader over one bucket prefix. */
export interface S3Archive {
  /** The hook: stores `events` (one stream, contiguous versions) durably before resolving. */
  archive(stream: string, events: readonly RecordedEvent[]): Promise<void>;
  /** Reads a stream's archived events back, in version order (optionally from a version). */
  read(stream: string, options?: { from?: number }): AsyncIterable<RecordedEvent>;
  /** The archived version ranges of a stream. */
  ranges(stream: string): Promise<Array<{ from: number; to: number; key: string }>>;
}

/**
 * Creates the archive tier on an object store.
 *
 * @example
 * ```ts
 * const archive = s3Archive(new S3ObjectStore({ bucket: 'my-bucket' }), 'archives/bank/');
 * new AggregateRepository(log, Account, { retention: { mode: 'truncate', archive: archive.archive } });
 * for await (const e of archive.read('accounts/eu/acct-7')) ...
 * ```
 */
export function s3Archive(store: ObjectStore, prefix = ''): S3Archive {
  if (store === null || typeof store !== 'object' || typeof store.put !== 'function') throw new InvalidArgumentError('s3Archive needs an ObjectStore (e.g. new S3ObjectStore({ bucket })).');
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/'))) throw new InvalidArgumentError(`The archive prefix must be '' or end with '/'; got ${String(prefix)}.`);
  const dir = (stream: string) => `${prefix}archive/${hex(stream)}/`;
  const ranges = async (stream: string) =>
    (await store.list(dir(stream)))
      .map((o) => {
        const m = /(\d{16})-(\d{16})\.jsonl$/.exec(o.key);
        return m ? { from: Number(m[1]), to: Number(m[2]), key: o.key } : undefined;
      })
      .filter((r): r is { from: number; to: number; key: string } => r !== undefined)
      .sort((a, b) => a.from - b.from);
  return {
    async archive(stream, events) {
      if (events.length === 0) return;
      events.forEach((e, i) => {
        if (e.stream !== stream || (i > 0 && e.version !== events[i - 1]!.version + 1)) {
          throw new InvalidArgumentError(`Archive of ${stream} needs contiguous events of that stream; got ${e.stream}@${e.version}.`);
        }
      });
      const key = `${dir(stream)}${pad(events[0]!.version)}-${pad(events.at(-1)!.version)}.jsonl`;
      await store.put(key, encoder.encode(`${events.map((e) => JSON.stringify(e)).join('\n')}\n`));
    },
    ranges,
    async *read(stream, options = {}) {
      const from = options.from ?? 1;
      for (const r of await ranges(stream)) {
        if (r.to < from) continue;
        const body = await store.get(r.key);
        if (body === undefined) continue;
        for (const line of decoder.decode(body).split('\n')) {
          if (line === '') continue;
          const e = JSON.parse(line) as RecordedEvent;
          if (e.version >= from) yield e;
        }
      }
    },
  };
}
