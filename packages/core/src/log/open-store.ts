/**
 * Opening an event log's store: the store itself (its failures as typed errors), the log format
 * and payload codec recorded in it (written for a new log, checked and upgraded for an existing
 * one) and the last position it holds; and what a store says about itself (pipeline depth,
 * refreshes of a follower). Internal to the log.
 *
 * @module
 */
import { builtInCodecs, jsonCodec, meta, type PayloadCodec } from '../codec.js';
import { InvalidArgumentError, LogLockedError, LogNotFoundError, StorageUnavailableError } from '../errors.js';
import { metaKey, positionOfGlobalKey, Space } from '../keys.js';
import { type AnyLevel, VALUE_OPTS, writeOptions } from './context.js';

/**
 * The log formats this code writes (docs/design/0010-cpu-per-event.md): 3 (text records, read as
 * `utf8` strings) for a new log with the built-in JSON codec, 2 (binary records) for a new log
 * with any other codec. A log stays on the format it was created with: every value of a log is
 * of one format, so reads never sniff. Logs of format 1 (msgpack records) open and read as
 * before; new records are written in format 2, and the log's metadata says 2 from then on, so
 * an older Strand refuses the log instead of failing on a record it cannot read.
 */
const TEXT_FORMAT = 3;
const BINARY_FORMAT = 2;
const READABLE_FORMATS: readonly number[] = [1, 2, 3];

/** What {@link openStore} found (or made) in the store. */
export interface OpenedStore {
  codec: PayloadCodec;
  lastPosition: number;
  /** The log is of record format 3: its records are text, read as `utf8` strings. */
  textRecords: boolean;
}

/** What {@link openStore} needs of the log's options. */
export interface StoreOpenOptions {
  store: AnyLevel;
  codec?: PayloadCodec | string;
  createIfMissing?: boolean;
  clock?: () => number;
}

/**
 * Opens the store if needed and reads (or, for a new log, writes) its format record: the codec
 * the log was created with, and the position of its last event.
 */
export async function openStore(options: StoreOpenOptions): Promise<OpenedStore> {
  const store = options.store;
  try {
    if (store.status === 'opening' || store.status === 'closed') await store.open();
  } catch (cause) {
    throw mapOpenError(cause, store);
  }
  const formatBytes = (await store.get(metaKey('format'), VALUE_OPTS)) as Uint8Array | undefined;
  const requested = typeof options.codec === 'string' ? builtInCodecs.get(options.codec) : options.codec;
  if (typeof options.codec === 'string' && requested === undefined) {
    throw new InvalidArgumentError(`Unknown codec "${options.codec}"; built-in codecs are ${[...builtInCodecs.keys()].join(', ')}, or pass a PayloadCodec object.`);
  }
  let codec: PayloadCodec;
  let format: number;
  if (formatBytes === undefined) {
    if (options.createIfMissing === false) throw new LogNotFoundError(describeStore(store), 'the store holds no Strand log');
    codec = requested ?? jsonCodec;
    // Only the built-in JSON codec's payloads are known to be UTF-8 text (0010, "Record format 3").
    format = codec === jsonCodec ? TEXT_FORMAT : BINARY_FORMAT;
    await store.put(metaKey('format'), meta.encode({ format, codec: codec.name, created: (options.clock ?? Date.now)() }), writeOptions(true));
  } else {
    const stored = meta.decode(formatBytes) as { format: number; codec: string; created?: number };
    if (!READABLE_FORMATS.includes(stored.format)) {
      throw new InvalidArgumentError(`This log has format ${stored.format}; this version of Strand reads formats ${READABLE_FORMATS.join(' and ')}. Upgrade Strand.`);
    }
    if (requested !== undefined && requested.name !== stored.codec) {
      throw new InvalidArgumentError(`This log was created with the "${stored.codec}" codec; open it with that codec (or none) instead of "${requested.name}".`);
    }
    const found = requested ?? builtInCodecs.get(stored.codec);
    if (found === undefined) {
      throw new InvalidArgumentError(`This log was created with the custom codec "${stored.codec}"; pass it as the codec option to open it.`);
    }
    codec = found;
    if (stored.format === TEXT_FORMAT && codec !== jsonCodec) {
      throw new InvalidArgumentError(`This log stores its payloads as JSON text (record format 3); open it with the built-in "json" codec (or none), not a custom codec named "${codec.name}".`);
    }
    format = stored.format;
    if (stored.format < BINARY_FORMAT) {
      format = BINARY_FORMAT;
      try {
        await store.put(metaKey('format'), meta.encode({ ...stored, format: BINARY_FORMAT }), writeOptions(true));
      } catch {
        // A read-only store (a follower) writes no records either: it stays as it is.
      }
    }
  }
  return { codec, lastPosition: await lastGlobalPosition(store), textRecords: format === TEXT_FORMAT };
}

/** The last position in the store's global order (0 for an empty log). */
export async function lastGlobalPosition(store: AnyLevel): Promise<number> {
  let last = 0;
  for await (const key of store.keys({ gte: Uint8Array.of(Space.global), lt: Uint8Array.of(Space.global + 1), reverse: true, limit: 1, keyEncoding: 'view' })) {
    last = (key as Uint8Array).length === 9 ? positionOfGlobalKey(key as Uint8Array) : 0;
  }
  return last;
}

/**
 * Calls `onRefresh` whenever the store emits `'refresh'` (a read-only S3Level does after a poll
 * that saw new data; other stores never do). Returns the function that stops it.
 */
export function listenForRefresh(store: AnyLevel, onRefresh: () => void): () => void {
  const emitter = store as unknown as { on?: (e: string, f: () => void) => unknown; off?: (e: string, f: () => void) => unknown };
  if (typeof emitter.on !== 'function' || typeof emitter.off !== 'function') return () => undefined;
  emitter.on.call(store, 'refresh', onRefresh);
  return () => void emitter.off?.call(store, 'refresh', onRefresh);
}

/**
 * The pipeline depth a store offers (`strandPipelineDepth`, e.g. S3Level's 4), looked up on the
 * store or the database a sublevel belongs to; 1 for every other store.
 */
export function storePipelineDepth(store: AnyLevel): number {
  const own = (store as { strandPipelineDepth?: unknown }).strandPipelineDepth;
  const root = (store as { db?: { strandPipelineDepth?: unknown } }).db?.strandPipelineDepth;
  const depth = own ?? root;
  return typeof depth === 'number' && Number.isSafeInteger(depth) && depth >= 1 ? depth : 1;
}

/** Where a store is, for messages: its location when it has one. */
function describeStore(store: AnyLevel): string {
  const location = (store as { location?: unknown }).location;
  return typeof location === 'string' ? location : 'this store';
}

/** A store that failed to open, as a StrandError: locked by another process, or unavailable. */
function mapOpenError(cause: unknown, store: AnyLevel): Error {
  const code = (cause as { code?: string; cause?: { code?: string } })?.cause?.code ?? (cause as { code?: string })?.code;
  if (code === 'LEVEL_LOCKED') {
    const location = (store as { location?: unknown }).location;
    return new LogLockedError(typeof location === 'string' ? location : 'the given store', cause);
  }
  return new StorageUnavailableError('open', cause);
}
