/**
 * Reads of the event log: stream metadata, one stream's events (forwards or backwards, with
 * truncation and deletion checks) and the global order, page by page with read-ahead.
 *
 * @module
 */
import { decodeHead, type StoredHead } from '../codec.js';
import { describeValue, InvalidArgumentError, StreamDeletedError, StreamTruncatedError } from '../errors.js';
import type { CachedHead } from '../head-cache.js';
import { globalKey, headKey, streamKey, streamPrefix } from '../keys.js';
import { assertStreamName, compilePattern } from '../names.js';
import { type BatchIterator, type PageSource, paged, readAhead } from '../paged.js';
import { decodeRecord, decodeRecordJson } from '../record/decode.js';
import { toJsonText } from '../record/event.js';
import type { JsonTextEvent, ReadAllOptions, ReadStreamOptions, RecordedEvent, StreamInfo } from '../types.js';
import { assertCount } from '../validate.js';
import { intercept, type LogContext, TEXT_VALUE_OPTS, VALUE_OPTS } from './context.js';

/** Store reads fetch pages that grow from PAGE to MAX_PAGE: short reads stay cheap, long ones pay few round trips to the store's thread. */
const PAGE = 256;
const MAX_PAGE = 1024;
// classic-level ends a nextv() after 16 KiB by default, i.e. ~50 events a round trip to its thread
// pool; reads ask for whole pages instead (other stores ignore the option).
const READ_OPTS = { ...VALUE_OPTS, highWaterMarkBytes: 1 << 20 } as const;
/** Format-3 logs read their records as strings (docs/design/0010-cpu-per-event.md, "Record format 3"). */
const TEXT_READ_OPTS = { ...TEXT_VALUE_OPTS, highWaterMarkBytes: 1 << 20 } as const;

/** A key range of event records. */
export interface RecordRange {
  gte: Uint8Array;
  lte: Uint8Array;
  reverse?: boolean;
}

/** The read side of one log. */
export class LogReads {
  constructor(private readonly ctx: LogContext) {}

  /** A stream's head: the cached one, else the stored one, `null` if the stream never existed. */
  async readHead(stream: string): Promise<CachedHead> {
    const cached = this.ctx.heads.get(stream);
    if (cached !== undefined) return cached;
    const v = (await this.ctx.store.get(headKey(stream), VALUE_OPTS)) as Uint8Array | undefined;
    return v === undefined ? null : decodeHead(v);
  }

  /** See {@link EventLog.streamInfo}. */
  async streamInfo(stream: string): Promise<StreamInfo | undefined> {
    assertStreamName(stream);
    const head = await this.readHead(stream);
    if (head === null) return undefined;
    return infoOf(stream, head);
  }

  /** See {@link EventLog.readStream}. */
  readStream(stream: string, options: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    assertStreamName(stream);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('readStream options must be an object.');
    assertCount('from', options.from, { min: 0 });
    assertCount('limit', options.limit, { min: 0 });
    const direction = options.direction ?? 'forwards';
    if (direction !== 'forwards' && direction !== 'backwards') throw new InvalidArgumentError(`direction must be 'forwards' or 'backwards', got ${describeValue(direction)}.`);
    const ifTruncated = options.ifTruncated ?? 'error';
    if (ifTruncated !== 'error' && ifTruncated !== 'skip') throw new InvalidArgumentError(`ifTruncated must be 'error' or 'skip'.`);
    return this.readStreamPages(stream, direction, options.from, options.limit ?? Number.POSITIVE_INFINITY, ifTruncated);
  }

  private readStreamPages(stream: string, direction: 'forwards' | 'backwards', from: number | undefined, limit: number, ifTruncated: 'error' | 'skip'): AsyncIterable<RecordedEvent> {
    return paged(async () => {
      const head = await this.readHead(stream);
      if (head === null) return undefined;
      if (head.deleted) throw new StreamDeletedError(stream);
      if (limit === 0) return undefined;
      const floor = head.truncatedBefore;
      const prefix = streamPrefix(stream);
      let lo: number;
      let hi: number;
      if (direction === 'forwards') {
        lo = Math.max(from ?? 1, 1);
        if (lo < floor) {
          if (ifTruncated === 'error') throw new StreamTruncatedError(stream, lo, floor);
          lo = floor;
        }
        hi = head.version;
      } else {
        hi = Math.min(from ?? head.version, head.version);
        lo = Number.isFinite(limit) ? Math.max(1, hi - limit + 1) : 1;
        if (lo < floor) {
          if (ifTruncated === 'error' && hi >= 1) throw new StreamTruncatedError(stream, lo, floor);
          lo = floor;
        }
      }
      if (lo > hi) return undefined;
      return this.eventPages({ gte: streamKey(prefix, lo), lte: streamKey(prefix, hi), reverse: direction === 'backwards' }, limit, hi - lo + 1, undefined, stream);
    });
  }

  /** See {@link EventLog.readAll}. */
  readAll(options: ReadAllOptions): AsyncIterable<RecordedEvent> {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('readAll options must be an object.');
    assertCount('from', options.from, { min: 0 });
    assertCount('to', options.to, { min: 0 });
    assertCount('limit', options.limit, { min: 0 });
    const match = options.pattern === undefined ? undefined : compilePattern(options.pattern);
    const from = Math.max(options.from ?? 1, 1);
    const to = options.to ?? this.ctx.position();
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    return paged(async () => {
      if (from > to || limit === 0) return undefined;
      return this.eventPages({ gte: globalKey(from), lte: globalKey(to) }, limit, to - from + 1, match?.matches);
    });
  }

  /**
   * Decoded, intercepted events of a key range holding `span` records, page by page with
   * read-ahead, at most `limit` of them, only those of matching streams if `matches` is given.
   * `stream` names the stream of a stream-key range (format-2 stream values do not carry it).
   */
  eventPages(range: RecordRange, limit: number, span: number, matches: ((s: string) => boolean) | undefined, stream?: string): PageSource<RecordedEvent> {
    const { codec, readInterceptors } = this.ctx;
    return this.pages(range, limit, span, matches, (value) => {
      const raw = decodeRecord(value, codec, stream);
      return matches !== undefined && !matches(raw.stream) ? undefined : intercept(readInterceptors, raw);
    });
  }

  /**
   * {@link LogReads.eventPages} as {@link JsonTextEvent}s: with no read interceptor, the `json`
   * codec's payloads stay the stored text (docs/design/0010-cpu-per-event.md, "Payload as JSON text").
   */
  jsonEventPages(range: RecordRange, limit: number, span: number, matches: ((s: string) => boolean) | undefined): PageSource<JsonTextEvent> {
    const { codec, readInterceptors } = this.ctx;
    if (readInterceptors.length > 0) {
      return this.pages(range, limit, span, matches, (value) => {
        const raw = decodeRecord(value, codec);
        if (matches !== undefined && !matches(raw.stream)) return undefined;
        const e = intercept(readInterceptors, raw);
        return e === undefined ? undefined : toJsonText(e);
      });
    }
    return this.pages(range, limit, span, matches, (value) => {
      const e = decodeRecordJson(value, codec);
      return matches !== undefined && !matches(e.stream) ? undefined : e;
    });
  }

  /**
   * Records of a range, page by page with read-ahead, each through `decode` (`undefined`: skipped):
   * strings in a log of record format 3, bytes otherwise.
   */
  private pages<T>(range: RecordRange, limit: number, span: number, matches: unknown, decode: (value: Uint8Array | string) => T | undefined): PageSource<T> {
    const { store, readInterceptors } = this.ctx;
    let remaining = limit;
    // Filtered or intercepted reads may drop events, so only an unfiltered read caps its reads.
    const budget = matches === undefined && readInterceptors.length === 0 ? Math.min(limit, span) : span;
    const source = readAhead(store.values({ ...range, ...(this.ctx.textRecords ? TEXT_READ_OPTS : READ_OPTS) }) as BatchIterator<Uint8Array | string>, PAGE, MAX_PAGE, budget);
    return {
      next: async () => {
        if (remaining <= 0) return undefined;
        const page = await source.next();
        if (page === undefined) return undefined;
        const out: T[] = [];
        for (const value of page) {
          const e = decode(value);
          if (e === undefined) continue;
          out.push(e);
          if (--remaining === 0) break;
        }
        return out;
      },
      close: () => source.close(),
    };
  }
}

/** A stream's public metadata from its head. */
export function infoOf(stream: string, head: StoredHead): StreamInfo {
  return {
    name: stream,
    version: head.version,
    lastPosition: head.lastPosition,
    created: head.created,
    truncatedBefore: head.truncatedBefore,
    truncatedThrough: head.truncatedThrough ?? head.lastPosition,
    deleted: head.deleted,
  };
}
