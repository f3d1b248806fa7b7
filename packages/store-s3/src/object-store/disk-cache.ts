/**
 * A local disk cache of whole immutable objects (SSTs), as an object-store decorator: the first
 * read of a cached object fetches all of it once (one GET) and keeps it in a file; later reads,
 * ranged or not, come from the file. Objects are never changed once written, so the cache needs
 * no invalidation (docs/design/0005-s3-engine.md, "Caches").
 *
 * @module
 */
import { open as openFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Random } from '../clock.js';
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './types.js';

/** Caches the objects `fileOf` names a file for in `dir`; passes everything else through. */
export class DiskCacheObjectStore implements ObjectStore {
  /** Whole-object fetches under way, by key (one GET however many readers wait). */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(
    private readonly inner: ObjectStore,
    private readonly dir: string,
    /** The cache file name of a key, or undefined for keys not cached (mutable or short-lived). */
    private readonly fileOf: (key: string) => string | undefined,
    private readonly random: Random,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const name = this.fileOf(key);
    if (name === undefined) return this.inner.get(key);
    return (await this.readFile(name)) ?? this.inner.get(key);
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    const name = this.fileOf(key);
    if (name === undefined) return this.inner.getRange(key, start, end);
    const cached = await this.readFile(name, start, end);
    if (cached) return cached;
    // First touch: fetch the whole object once, keep it on disk.
    let whole = this.fetching.get(key);
    if (!whole) {
      whole = (async () => {
        const bytes = await this.inner.get(key);
        if (bytes) await this.store(name, bytes);
      })();
      this.fetching.set(key, whole);
    }
    try {
      await whole;
    } catch (err) {
      this.fetching.delete(key);
      return this.inner.getRange(key, start, end).catch(() => {
        throw err;
      });
    }
    return (await this.readFile(name, start, end)) ?? this.inner.getRange(key, start, end);
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    const result = await this.inner.put(key, body, options);
    const name = this.fileOf(key);
    // Best effort: a table written here is read here next (a flush's output by compaction).
    if (name !== undefined) await this.store(name, body).catch(() => undefined);
    return result;
  }

  async delete(key: string): Promise<void> {
    await this.inner.delete(key);
    const name = this.fileOf(key);
    if (name !== undefined) {
      this.fetching.delete(key);
      await rm(join(this.dir, name), { force: true });
    }
  }

  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    return this.inner.list(prefix, options);
  }

  serverTime(): number | undefined {
    return this.inner.serverTime?.();
  }

  /** Writes a cache file atomically (a temporary name, then a rename). */
  private async store(name: string, bytes: Uint8Array): Promise<void> {
    const path = join(this.dir, name);
    const tmp = `${path}.${process.pid}.${Math.floor(this.random() * 1e9)}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }

  /** Bytes `[start, end)` of a cache file (all of it without a range), or undefined if absent or short. */
  private async readFile(name: string, start?: number, end?: number): Promise<Uint8Array | undefined> {
    let fh: Awaited<ReturnType<typeof openFile>>;
    try {
      fh = await openFile(join(this.dir, name), 'r');
    } catch {
      return undefined; // not cached yet
    }
    try {
      const from = start ?? 0;
      const to = end ?? (await fh.stat()).size;
      const out = Buffer.allocUnsafe(to - from);
      const { bytesRead } = await fh.read(out, 0, to - from, from);
      return bytesRead === to - from ? out : undefined;
    } finally {
      await fh.close();
    }
  }
}
