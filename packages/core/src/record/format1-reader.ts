/**
 * A decoder for the event record envelope specialised to its fixed layout (docs/design/0001):
 * reading a catch-up spends most of its JavaScript time here, and the generic msgpack decoder
 * paid for generality the record does not use. Any shape it does not expect (metadata maps,
 * future formats) is left to the generic decoder, so both always agree (property-tested).
 *
 * @module
 */

const utf8 = new TextDecoder();

/**
 * The envelope as msgpack decodes it, payload bytes still encoded:
 * `[format, stream, version, position, type, id, timestamp, data, metadata, schemaVersion]`.
 */
export type RecordFields = [format: number, stream: string, version: number, position: number, type: string, id: string, timestamp: number, data: Uint8Array, metadata: Record<string, unknown> | null, schemaVersion: number | null];

// The reader's cursor: module state instead of an object per record (reading is synchronous).
let b: Uint8Array = new Uint8Array(0);
let pos = 0;
const scratch = new DataView(new ArrayBuffer(8));

function u16(p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

function float(p: number, size: 4 | 8): number {
  for (let i = 0; i < size; i++) scratch.setUint8(i, b[p + i]!);
  return size === 4 ? scratch.getFloat32(0) : scratch.getFloat64(0);
}

function readNumber(): number | undefined {
  const t = b[pos++]!;
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 0x100;
  const p = pos;
  switch (t) {
    case 0xcc:
      pos += 1;
      return b[p];
    case 0xcd:
      pos += 2;
      return u16(p);
    case 0xce:
      pos += 4;
      return u32(p);
    case 0xcf: {
      pos += 8;
      const hi = u32(p);
      // Beyond 2^53 the generic decoder gives a BigInt; no record holds one, so let it decide.
      return hi > 0x1f_ffff ? undefined : hi * 0x1_0000_0000 + u32(p + 4);
    }
    case 0xd0:
      pos += 1;
      return (b[p]! << 24) >> 24;
    case 0xd1:
      pos += 2;
      return (u16(p) << 16) >> 16;
    case 0xd2:
      pos += 4;
      return u32(p) | 0;
    case 0xca:
      pos += 4;
      return float(p, 4);
    case 0xcb:
      pos += 8;
      return float(p, 8);
    default:
      return undefined;
  }
}

/** The last string read in one field, kept to skip decoding its next repeat. */
interface Interned {
  bytes: Uint8Array;
  str: string;
}

/**
 * Consecutive records mostly repeat their stream (a stream read: always) and their type: reuse
 * the last string when the bytes match instead of building a new one (6% of a fold's CPU).
 */
const lastStream: Interned = { bytes: new Uint8Array(0), str: '' };
const lastType: Interned = { bytes: new Uint8Array(0), str: '' };

function readString(last?: Interned): string | undefined {
  const t = b[pos++]!;
  let len: number;
  if (t >= 0xa0 && t <= 0xbf) len = t - 0xa0;
  else if (t === 0xd9) len = b[pos++]!;
  else if (t === 0xda) {
    len = u16(pos);
    pos += 2;
  } else return undefined;
  const start = pos;
  const end = start + len;
  if (end > b.length) return undefined;
  pos = end;
  if (last) {
    const prev = last.bytes;
    if (prev.length === len) {
      let i = 0;
      while (i < len && prev[i] === b[start + i]) i++;
      if (i === len) return last.str;
    }
    const str = decodeString(start, end, len);
    last.bytes = b.slice(start, end);
    last.str = str;
    return str;
  }
  return decodeString(start, end, len);
}

function decodeString(start: number, end: number, len: number): string {
  // Names, types and ids are short and nearly always ASCII: build them without a native call.
  if (len <= 64) {
    for (let i = start; i < end; i++) if (b[i]! >= 0x80) return utf8.decode(b.subarray(start, end));
    return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  }
  return utf8.decode(b.subarray(start, end));
}

function readBin(): Uint8Array | undefined {
  const t = b[pos++]!;
  let len: number;
  if (t === 0xc4) len = b[pos++]!;
  else if (t === 0xc5) {
    len = u16(pos);
    pos += 2;
  } else if (t === 0xc6) {
    len = u32(pos);
    pos += 4;
  } else return undefined;
  const start = pos;
  pos += len;
  if (pos > b.length) return undefined;
  return b.subarray(start, pos);
}

/**
 * Reads a format-1 record with no metadata; `undefined` for anything else (the caller then uses
 * the generic decoder, which also reports corruption).
 */
export function readRecordFast(bytes: Uint8Array): RecordFields | undefined {
  // [format 1, stream, version, position, type, id, timestamp, data, metadata nil, schemaVersion]
  if (bytes.length < 12 || bytes[0] !== 0x9a || bytes[1] !== 0x01) return undefined;
  b = bytes;
  pos = 2;
  try {
    return readFields();
  } finally {
    b = empty;
  }
}

const empty = new Uint8Array(0);

function readFields(): RecordFields | undefined {
  const bytes = b;
  const stream = readString(lastStream);
  if (stream === undefined) return undefined;
  const version = readNumber();
  const position = readNumber();
  if (version === undefined || position === undefined) return undefined;
  const type = readString(lastType);
  const id = readString();
  if (type === undefined || id === undefined) return undefined;
  const timestamp = readNumber();
  if (timestamp === undefined) return undefined;
  const data = readBin();
  if (data === undefined || pos >= bytes.length || bytes[pos++] !== 0xc0) return undefined;
  let schemaVersion: number | null = null;
  if (pos >= bytes.length) return undefined;
  if (bytes[pos] === 0xc0) {
    pos++;
  } else {
    const v = readNumber();
    if (v === undefined) return undefined;
    schemaVersion = v;
  }
  if (pos !== bytes.length) return undefined;
  return [1, stream, version, position, type, id, timestamp, data, null, schemaVersion];
}
