/**
 * Where a table lives: a directory (atomic commits by an exclusive hard link of the versioned
 * metadata file) or a bucket prefix (atomic commits by a PUT with `If-None-Match: *`). The table
 * code sees only {@link TableIO}; paths are relative to the table location.
 * Design: docs/design/0009-iceberg.md.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, isStrandError } from '@strand/core';

/** One file under the table location. */
export interface TableFile {
  /** Path relative to the table location, `/`-separated. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Last modification, ms since the epoch. */
  lastModified: number;
}

/** The storage a table is written to. */
export interface TableIO {
  /** The table location as an absolute URI without a trailing slash (`file:///...`, `s3://bucket/prefix`). */
  readonly location: string;
  /** A file's bytes, `undefined` when it does not exist. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Writes (or replaces) a file; readers see all of it or nothing; durable when it resolves. */
  write(path: string, body: Uint8Array): Promise<void>;
  /** Creates a file only if none exists at `path` (the commit point); false when one did. */
  create(path: string, body: Uint8Array): Promise<boolean>;
  /** Every file under a relative prefix (`data/`, `metadata/`). */
  list(prefix: string): Promise<TableFile[]>;
  /** Deletes a file; a missing file is not an error. */
  delete(path: string): Promise<void>;
}

/** The absolute URI of a path of the table. */
export function uriOf(io: TableIO, path: string): string {
  return `${io.location}/${path}`;
}

/** The table-relative path of an absolute URI written by this table, or `undefined` for a foreign one. */
export function relativeOf(io: TableIO, uri: string): string | undefined {
  return uri.startsWith(`${io.location}/`) ? uri.slice(io.location.length + 1) : undefined;
}

async function fsyncPath(path: string): Promise<void> {
  const h = await open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** A table in a local directory. */
export class FileTableIO implements TableIO {
  readonly location: string;
  private readonly root: string;

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('A table directory is a non-empty path.');
    this.root = resolve(dir);
    this.location = pathToFileURL(this.root).href.replace(/\/$/, '');
  }

  private abs(path: string): string {
    if (path.split('/').some((s) => s === '..' || s === '')) throw new InvalidArgumentError(`Not a table path: ${path}`);
    return join(this.root, ...path.split('/'));
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.abs(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private async writeTemp(path: string, body: Uint8Array): Promise<string> {
    const target = this.abs(path);
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(dirname(target), `.tmp-${randomUUID()}`);
    const h = await open(tmp, 'wx');
    try {
      await h.writeFile(body);
      await h.sync();
    } finally {
      await h.close();
    }
    return tmp;
  }

  async write(path: string, body: Uint8Array): Promise<void> {
    const tmp = await this.writeTemp(path, body);
    await rename(tmp, this.abs(path));
    await fsyncPath(dirname(this.abs(path)));
  }

  async create(path: string, body: Uint8Array): Promise<boolean> {
    // Written whole and synced under a unique name first, then hard-linked to the versioned
    // name: link(2) fails with EEXIST when the name exists, so one writer wins and a reader
    // never sees a partial file (a rename would silently replace the other writer's commit).
    const tmp = await this.writeTemp(path, body);
    try {
      await link(tmp, this.abs(path));
      await fsyncPath(dirname(this.abs(path)));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async list(prefix: string): Promise<TableFile[]> {
    const out: TableFile[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(this.abs(rel), { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const d of entries) {
        const p = `${rel}/${d.name}`;
        if (d.isDirectory()) await walk(p);
        else if (d.isFile()) {
          const s = await stat(this.abs(p)).catch(() => undefined);
          if (s) out.push({ path: p, size: s.size, lastModified: s.mtimeMs });
        }
      }
    };
    await walk(prefix.replace(/\/$/, ''));
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async delete(path: string): Promise<void> {
    await rm(this.abs(path), { force: true });
  }
}

/**
 * The object-store operations a bucket table needs; `@strand/store-s3`'s `ObjectStore`
 * (`S3ObjectStore`, `InMemoryObjectStore`, the retrying decorator) has this shape.
 */
export interface ObjectStoreLike {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, body: Uint8Array, options?: { ifNoneMatch?: '*' }): Promise<unknown>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<Array<{ key: string; size: number; lastModified: number }>>;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** A table under a bucket prefix. */
export class ObjectStoreTableIO implements TableIO {
  readonly location: string;
  private readonly prefix: string;

  /**
   * @param store the bucket
   * @param bucket its name (for the `s3://` location written into metadata)
   * @param prefix the table's key prefix, e.g. `warehouse/orders`
   */
  constructor(
    private readonly store: ObjectStoreLike,
    bucket: string,
    prefix: string,
  ) {
    const p = prefix.replace(/^\/+|\/+$/g, '');
    this.prefix = p === '' ? '' : `${p}/`;
    this.location = `s3://${bucket}${p === '' ? '' : `/${p}`}`;
  }

  read(path: string): Promise<Uint8Array | undefined> {
    return this.store.get(this.prefix + path);
  }

  async write(path: string, body: Uint8Array): Promise<void> {
    await this.store.put(this.prefix + path, body);
  }

  async create(path: string, body: Uint8Array): Promise<boolean> {
    try {
      await this.store.put(this.prefix + path, body, { ifNoneMatch: '*' });
      return true;
    } catch (e) {
      if (isStrandError(e, 'STRAND_S3_PRECONDITION_FAILED')) return false;
      // The PUT may have been applied even though its answer was lost: the metadata file carries
      // a fresh snapshot id, so equal bytes mean this writer's create is the one stored.
      if ((e as { outcomeUnknown?: boolean }).outcomeUnknown === true) {
        const stored = await this.store.get(this.prefix + path);
        if (stored !== undefined) return sameBytes(stored, body);
      }
      throw e;
    }
  }

  async list(prefix: string): Promise<TableFile[]> {
    const objects = await this.store.list(this.prefix + prefix);
    return objects.map((o) => ({ path: o.key.slice(this.prefix.length), size: o.size, lastModified: o.lastModified }));
  }

  delete(path: string): Promise<void> {
    return this.store.delete(this.prefix + path);
  }
}

/**
 * Opens a table location: a directory path, a `file://` URI, or
 * `s3://bucket/prefix?endpoint=...&region=...` (needs `@strand/store-s3`; credentials from the
 * AWS SDK's chain).
 */
export async function openTableIO(location: string): Promise<TableIO> {
  if (typeof location !== 'string' || location.length === 0) throw new InvalidArgumentError('A table location is a directory, file:// or s3:// URI.');
  if (location.startsWith('file://')) return new FileTableIO(new URL(location).pathname);
  if (!location.startsWith('s3://')) return new FileTableIO(location);
  const name = '@strand/store-s3';
  let mod: {
    parseS3Url(url: string): { bucket: string; prefix: string; region: string | undefined; endpoint: string | undefined };
    S3ObjectStore: new (o: { bucket: string; region?: string; endpoint?: string }) => ObjectStoreLike;
    RetryingObjectStore: new (inner: ObjectStoreLike, clock: unknown, random: () => number) => ObjectStoreLike;
    systemClock: unknown;
  };
  try {
    mod = (await import(name)) as typeof mod;
  } catch {
    throw new InvalidArgumentError('An s3:// table needs @strand/store-s3: npm install @strand/store-s3.');
  }
  const loc = mod.parseS3Url(location);
  const store = new mod.RetryingObjectStore(new mod.S3ObjectStore({ bucket: loc.bucket, region: loc.region, endpoint: loc.endpoint }), mod.systemClock, Math.random);
  return new ObjectStoreTableIO(store, loc.bucket, loc.prefix);
}
