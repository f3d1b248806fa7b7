/**
 * Whole-store invariant check (`strand verify`): every global record has its stream-index twin
 * with the same bytes (record format 1) or its body (formats 2 and 3) and vice versa, stream versions are contiguous from their truncation floor
 * to their head, heads agree with their last event, and the global order ends at the log's head.
 * Reads the store once per key space, page by page: memory stays bounded.
 *
 * @module
 */
import { decodeHead } from './codec.js';
import type { AnyLevel } from './log/context.js';
import { Space, streamKey, streamPrefix } from './keys.js';
import { decodeName } from './names.js';
import { recordFormat, recordKey, twinBytes } from './record/decode.js';

/** What `verify` found. */
export interface VerifyReport {
  /** Events in the global order. */
  events: number;
  /** Streams (heads). */
  streams: number;
  /** Events removed by truncation (positions legitimately missing from the global order). */
  truncated: number;
  /** Highest global position found. */
  lastPosition: number;
  /** Every broken invariant, in words (empty when the store is consistent). */
  problems: string[];
}

const VIEW = { keyEncoding: 'view', valueEncoding: 'view' } as const;
const MAX_PROBLEMS = 100;

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks a store's invariants. `onProgress` gets the number of keys checked so far. */
export async function verifyStore(store: AnyLevel, logPosition: number, onProgress: (checked: number) => void = () => {}): Promise<VerifyReport> {
  const report: VerifyReport = { events: 0, streams: 0, truncated: 0, lastPosition: 0, problems: [] };
  const problem = (p: string) => {
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(p);
  };
  let checked = 0;
  // Global order: decodes, increasing, and its stream twin holds the same bytes.
  let prev = 0;
  const it = store.iterator({ gte: Uint8Array.of(Space.global), lt: Uint8Array.of(Space.global + 1), ...VIEW });
  try {
    for (;;) {
      const page = (await it.nextv(1000)) as Array<[Uint8Array, Uint8Array]>;
      if (page.length === 0) break;
      const twins = page.map(([, v]) => {
        try {
          const format = recordFormat(v);
          if (format === '2-stream' || format === '3-stream') return undefined;
          const r = recordKey(v);
          return streamKey(streamPrefix(r.stream), r.version);
        } catch {
          return undefined;
        }
      });
      const found = (await store.getMany(twins.filter((k): k is Uint8Array => k !== undefined), VIEW)) as Array<Uint8Array | undefined>;
      let j = 0;
      page.forEach(([key, value], i) => {
        const position = Number(new DataView(key.buffer, key.byteOffset + 1, 8).getBigUint64(0));
        if (position <= prev) problem(`global position ${position} out of order`);
        prev = position;
        report.events++;
        const twinKey = twins[i];
        if (twinKey === undefined) return problem(`record at position ${position} does not decode`);
        const twin = found[j++];
        // Format 1: the stream value is the global value; formats 2 and 3: its body (docs/design/0010).
        const expected = twinBytes(value);
        if (twin === undefined) problem(`position ${position} has no stream index entry`);
        else if (!same(twin, expected)) problem(`position ${position} differs from its stream index entry`);
        const r = recordKey(value);
        if (r.position !== position) problem(`record at key ${position} says position ${r.position}`);
      });
      checked += page.length;
      onProgress(checked);
    }
  } finally {
    await it.close();
  }
  report.lastPosition = prev;
  if (prev !== logPosition && !(prev === 0 && logPosition === 0)) problem(`last global position ${prev} but the log's head is ${logPosition}`);

  // Heads and stream indexes: contiguous versions from the floor to the head.
  let streamIndexed = 0;
  for await (const [key, value] of store.iterator({ gte: Uint8Array.of(Space.head), lt: Uint8Array.of(Space.head + 1), ...VIEW })) {
    const name = decodeName((key as Uint8Array).subarray(1));
    report.streams++;
    let head: ReturnType<typeof decodeHead>;
    try {
      head = decodeHead(value as Uint8Array);
    } catch {
      problem(`head of ${name} does not decode`);
      continue;
    }
    report.truncated += head.truncatedBefore - 1;
    let expect = head.truncatedBefore;
    const prefix = streamPrefix(name);
    for await (const [k, v] of store.iterator({ gte: streamKey(prefix, 0), lte: streamKey(prefix, Number.MAX_SAFE_INTEGER), ...VIEW })) {
      let r: { version: number; position: number };
      try {
        r = recordKey(v as Uint8Array, name);
      } catch {
        problem(`${name}: a stream record does not decode`);
        continue;
      }
      if (r.version !== expect) {
        problem(`${name}: version ${r.version} where ${expect} was expected`);
        expect = r.version;
      }
      if (!same(streamKey(prefix, r.version), k as Uint8Array)) problem(`${name}: key and record disagree at version ${r.version}`);
      if (r.version === head.version && r.position !== head.lastPosition) problem(`${name}: head says last position ${head.lastPosition}, event says ${r.position}`);
      expect++;
      streamIndexed++;
    }
    if (expect - 1 !== head.version && head.version >= head.truncatedBefore) problem(`${name}: head at version ${head.version}, events end at ${expect - 1}`);
    checked++;
    if (checked % 1000 === 0) onProgress(checked);
  }
  if (streamIndexed !== report.events) problem(`${streamIndexed} events in stream indexes, ${report.events} in the global order`);
  if (report.truncated === 0 && report.events !== report.lastPosition) problem(`${report.lastPosition - report.events} gaps in the global order`);
  return report;
}
