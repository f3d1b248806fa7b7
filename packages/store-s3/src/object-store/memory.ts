/**
 * An in-process bucket for unit tests and the simulation: enforces conditional PUTs like S3.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './types.js';
import { PreconditionFailedError, unquoteEtag } from './types.js';

interface Entry {
  body: Uint8Array;
  etag: string;
  lastModified: number;
}

/** A `Map`-backed {@link ObjectStore}. Bodies are copied in and out, like a real store. */
export class InMemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Entry>();

  constructor(private readonly clock: Clock = systemClock) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const e = this.objects.get(key);
    return e ? copyOf(e.body) : undefined;
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    const e = this.objects.get(key);
    return e ? copyOf(e.body.subarray(start, end)) : undefined;
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    return this.putSync(key, body, options);
  }

  /** The PUT without an await, so fault injection can store torn bodies synchronously. */
  putSync(key: string, body: Uint8Array, options: PutOptions = {}): PutResult {
    const existing = this.objects.get(key);
    if (options.ifNoneMatch === '*' && existing) throw new PreconditionFailedError(key);
    if (options.ifMatch !== undefined && (!existing || existing.etag !== unquoteEtag(options.ifMatch))) {
      throw new PreconditionFailedError(key);
    }
    const etag = createHash('md5').update(body).digest('hex');
    this.objects.set(key, { body: copyOf(body), etag, lastModified: this.clock.now() });
    return { etag };
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectInfo[]> {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(byteOrder);
    const out: ObjectInfo[] = [];
    for (const key of keys) {
      if (options.startAfter !== undefined && byteOrder(key, options.startAfter) <= 0) continue;
      const e = this.objects.get(key) as Entry;
      out.push({ key, size: e.body.byteLength, lastModified: e.lastModified });
      if (options.limit !== undefined && out.length >= options.limit) break;
    }
    return out;
  }

  /** This bucket's clock: the one its `lastModified` times come from. */
  serverTime(): number {
    return this.clock.now();
  }

  /** Every key currently stored (tests). */
  keys(): string[] {
    return [...this.objects.keys()].sort(byteOrder);
  }
}

/**
 * A copy of `bytes` in memory of its own, made in one block copy (`Uint8Array.from` walks the
 * source element by element through the iterator protocol, which made every GET of the unit tests
 * and the simulation cost a loop per byte).
 */
function copyOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
