/**
 * The manifest store: reads the newest manifest and writes new versions with compare-and-swap on
 * create-only slots (`If-None-Match: *`), which is what fences a stale writer
 * (docs/design/0005-s3-engine.md, "Manifest and fencing").
 *
 * @module
 */
import { CorruptionError } from '@strand/core';
import { FencedError } from '../errors.js';
import type { ObjectStore } from '../object-store/types.js';
import { PreconditionFailedError } from '../object-store/types.js';
import type { Manifest } from './format.js';
import { decodeManifest, emptyManifest, encodeManifest, manifestKey, manifestVersionOf } from './format.js';
import { checkManifestTransition } from './invariants.js';

/** The newest valid manifest after some version, and the highest slot in use. */
export interface LatestManifest {
  /** Undefined when no valid manifest follows the version asked about. */
  manifest: Manifest | undefined;
  /** The highest manifest slot in use (valid or void), or the version asked about. */
  topSlot: number;
}

/** Reads and writes the manifest versions of one store (one prefix). */
export class ManifestStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
  ) {}

  /**
   * The newest valid manifest with a version above `after`. A torn manifest (a failed upload that
   * left a truncated object) is void: its writer was never told it succeeded, so it is skipped
   * and its slot is never reused.
   */
  async readLatest(after: number): Promise<LatestManifest> {
    const listed = await this.store.list(`${this.prefix}manifest/`, {
      ...(after > 0 ? { startAfter: manifestKey(this.prefix, after) } : {}),
    });
    const versions = listed
      .map((o) => manifestVersionOf(this.prefix, o.key))
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => b - a);
    const topSlot = versions[0] ?? after;
    for (const v of versions) {
      const m = await this.readSlot(v);
      if (m) return { manifest: m, topSlot };
    }
    return { manifest: undefined, topSlot };
  }

  /** The manifest in slot `version`, or undefined when the slot is empty or void (torn). */
  async readSlot(version: number): Promise<Manifest | undefined> {
    const key = manifestKey(this.prefix, version);
    const bytes = await this.store.get(key);
    if (!bytes) return undefined;
    try {
      const m = decodeManifest(bytes, key);
      if (m.version !== version) throw new CorruptionError(`${key} holds version ${m.version}`);
      return m;
    } catch (err) {
      if (err instanceof CorruptionError) return undefined;
      throw err;
    }
  }

  /**
   * Opens the store for a new writer: writes the next version with the epoch one higher (the
   * first manifest of an empty store has epoch 1), starting again from the newest manifest when
   * another opener or writer takes the slot first. Returns the manifest written.
   */
  async fence(): Promise<Manifest> {
    return (await this.fenceWhile(async () => undefined)).manifest;
  }

  /**
   * {@link ManifestStore.fence}, running `work` on the manifest about to be written while its PUT
   * is under way (a writer's open reads the WAL meanwhile: docs/design/0005, "Opening a writer"). `work`
   * may only read: when the slot turns out taken, its result is dropped (once it has settled) and
   * both start again from the newer manifest. Returns the manifest written and `work`'s result.
   */
  async fenceWhile<T>(work: (next: Manifest) => Promise<T>): Promise<{ manifest: Manifest; result: T }> {
    for (;;) {
      const { manifest: latest, topSlot } = await this.readLatest(0);
      const next: Manifest = latest
        ? { ...latest, version: topSlot + 1, epoch: latest.epoch + 1 }
        : { ...emptyManifest(), version: topSlot + 1 };
      checkManifestTransition(latest, next, true);
      const working = work(next);
      working.catch(() => undefined);
      try {
        await this.store.put(manifestKey(this.prefix, next.version), encodeManifest(next), { ifNoneMatch: '*' });
      } catch (err) {
        // Nothing of a failed attempt may run on into the next one (or past a failed open).
        await working.catch(() => undefined);
        // Another writer opened (or committed) meanwhile: start again from its manifest.
        if (!(err instanceof PreconditionFailedError)) throw err;
        continue;
      }
      return { manifest: next, result: await working };
    }
  }

  /**
   * Writes `next` (same epoch as `cur`) as the version after `cur`. A slot that turns out taken
   * is read: a void (torn) one, likely this writer's own failed upload, is skipped (M4 allows it);
   * a valid one means another writer wrote it, so this writer is fenced and gets
   * {@link FencedError} (docs/design/0005, "Manifest and fencing"). Returns the manifest written.
   */
  async commit(cur: Manifest, change: Omit<Manifest, 'version' | 'epoch'>): Promise<Manifest> {
    const next: Manifest = { ...change, version: cur.version + 1, epoch: cur.epoch };
    for (;;) {
      checkManifestTransition(cur, next, false);
      try {
        await this.store.put(manifestKey(this.prefix, next.version), encodeManifest(next), { ifNoneMatch: '*' });
        return next;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      const there = await this.readSlot(next.version);
      if (there === undefined) {
        next.version++;
        continue;
      }
      throw new FencedError(
        `This writer (epoch ${cur.epoch}) was fenced: manifest ${next.version} exists with epoch ${there.epoch}`,
        { epoch: cur.epoch, by: there.epoch },
      );
    }
  }
}
