/**
 * The first step of an append, in the caller's turn: validate the input, run the append
 * interceptors and encode each payload once, so bad input fails before anything is queued
 * (docs/design/0002-commit-path.md, "Design: one writer, group commit").
 *
 * @module
 */
import { type PayloadCodec, meta } from '../codec.js';
import { EventTooLargeError, type ExpectedVersion, InvalidEventError, StrandError } from '../errors.js';
import { streamPrefix } from '../keys.js';
import type { AppendInterceptor } from '../plugins.js';
import { utf8Bytes } from '../record/format2.js';
import type { EventInput } from '../types.js';
import { type AppendInput, assertEvents } from '../validate.js';

/** One event, validated and with its payload encoded. */
export interface PreparedEvent {
  id: string;
  type: string;
  data: unknown;
  bytes: Uint8Array;
  metadata: Record<string, unknown> | undefined;
  /** `metadata` encoded once (msgpack; JSON text in a format-3 log): measured against the size limit, then stored as it is. */
  metaBytes: Uint8Array | undefined;
  /** `type` in UTF-8, for the record. */
  typeBytes: Uint8Array;
  schemaVersion: number | undefined;
  /** The caller gave the id (only such appends can be idempotent retries). */
  idGiven: boolean;
}

/** One stream's part of an append, ready for the commit pipeline. */
export interface PreparedPart {
  stream: string;
  /** The stream key prefix (docs/design/0001). */
  prefix: Uint8Array;
  /** The stream name in UTF-8, for the global record (formats 2 and 3). */
  name: Uint8Array;
  events: PreparedEvent[];
  expected: ExpectedVersion;
  recreate: boolean;
}

/** What {@link prepareAppend} needs from the log. */
export interface PrepareOptions {
  codec: PayloadCodec;
  /** The log is of record format 3: metadata is stored as JSON text (docs/design/0010). */
  textRecords: boolean;
  maxEventBytes: number;
  maxAppendEvents: number;
  appendInterceptors: readonly AppendInterceptor[];
  newId: () => string;
}

/**
 * Runs the interceptors over one stream's append and encodes the payloads. `p` is the validated
 * copy of the caller's input (`copyAppend`/`copyParts` in validate.ts): nothing here reads the
 * caller's objects again.
 */
export async function prepareAppend(p: AppendInput, o: PrepareOptions): Promise<PreparedPart> {
  const stream = p.stream;
  let events: readonly EventInput[] = p.events;
  for (const interceptor of o.appendInterceptors) {
    events = await interceptor.onAppend(events, { stream });
    assertEvents(events, o.maxAppendEvents);
  }
  const codec = o.codec;
  const prepared = events.map((e, index): PreparedEvent => {
    let bytes: Uint8Array;
    try {
      bytes = codec.encode(e.data, { stream, type: e.type });
    } catch (cause) {
      if (cause instanceof StrandError) throw cause;
      throw new InvalidEventError(`data of event ${index} (${e.type}) cannot be encoded by the ${codec.name} codec: ${(cause as Error).message}`, { index, type: e.type });
    }
    const metaBytes = e.metadata === undefined ? undefined : o.textRecords ? Buffer.from(JSON.stringify(e.metadata), 'utf8') : meta.encode(e.metadata);
    const metaSize = metaBytes === undefined ? 0 : metaBytes.length;
    if (bytes.length + metaSize > o.maxEventBytes) throw new EventTooLargeError(bytes.length + metaSize, o.maxEventBytes, e.type);
    return {
      id: e.id ?? o.newId(),
      idGiven: e.id !== undefined,
      type: e.type,
      data: e.data,
      bytes,
      metadata: e.metadata,
      metaBytes,
      typeBytes: utf8Bytes(e.type),
      schemaVersion: e.schemaVersion,
    };
  });
  return { stream, prefix: streamPrefix(stream), name: utf8Bytes(stream), events: prepared, expected: p.expectedVersion, recreate: p.recreate };
}
