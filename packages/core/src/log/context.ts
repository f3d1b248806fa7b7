/**
 * What the event log's parts (commit pipeline, reads, follow, hierarchy, maintenance) share: the
 * store, the payload codec, the head cache, the live ring and the read interceptors. Internal.
 *
 * @module
 */
import type { AbstractLevel } from 'abstract-level';
import type { PayloadCodec } from '../codec.js';
import type { HeadCache } from '../head-cache.js';
import type { LiveRing } from '../live-ring.js';
import type { Logger, ReadInterceptor } from '../plugins.js';
import type { Durability, RecordedEvent } from '../types.js';

/** Any abstract-level database or sublevel. */
// biome-ignore lint/suspicious/noExplicitAny: the log works with every abstract-level implementation.
export type AnyLevel = AbstractLevel<any, any, any>;

/** Binary keys and values: the log's own keys and records are bytes. */
export const VALUE_OPTS = { keyEncoding: 'view', valueEncoding: 'view' } as const;

/**
 * Binary keys, values as strings: how a log of record format 3 reads its records, one JS string
 * per value instead of a Buffer (docs/design/0010-cpu-per-event.md, "Record format 3").
 */
export const TEXT_VALUE_OPTS = { keyEncoding: 'view', valueEncoding: 'utf8' } as const;

/** classic-level's `sync` write option; abstract-level's types do not declare it. */
export function writeOptions(sync: boolean): typeof VALUE_OPTS {
  const options = { ...VALUE_OPTS, sync };
  return options;
}

/** The state one open log's parts share. */
export interface LogContext {
  readonly store: AnyLevel;
  readonly codec: PayloadCodec;
  /** The log is of record format 3: its records are read as `utf8` strings. */
  readonly textRecords: boolean;
  readonly durability: Durability;
  readonly heads: HeadCache;
  readonly ring: LiveRing;
  readonly readInterceptors: ReadInterceptor[];
  readonly logger: Logger;
  /** The last acknowledged global position. */
  position(): number;
  /** True once the log was closed. */
  isClosed(): boolean;
}

/** Runs the read interceptors over an event; `undefined` when one of them drops it. */
export function intercept(interceptors: readonly ReadInterceptor[], event: RecordedEvent): RecordedEvent | undefined {
  let e: RecordedEvent | undefined = event;
  for (const i of interceptors) {
    e = i.onRead(e);
    if (e === undefined) return undefined;
  }
  return e;
}
