/**
 * The follower (a read-only instance): opens without fencing and polls the manifest and the WAL
 * every `pollIntervalMs`, keeping the WAL objects not yet in a table as its memtable
 * (docs/design/0005-s3-engine.md, "Followers").
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { BackgroundTask } from './background.js';
import { Engine } from './engine.js';
import { ReadOnlyError } from './errors.js';
import type { EngineConfig } from './engine.js';
import type { GcResult } from './gc.js';
import type { Manifest } from './manifest/format.js';
import { Memtable } from './memtable.js';
import type { WalBatch } from './wal/format.js';

/** A read-only engine that follows the writer. */
export class Follower extends Engine {
  /** WAL objects at or after the manifest's replay point, by slot: the memtable's contents. */
  private readonly walTail = new Map<number, WalBatch[]>();
  private lastWalId = 0;
  /** WAL objects the last poll found: the next poll reads that many slots (plus one) at once. */
  private lastFound = 0;
  private refreshing: Promise<void> | undefined;
  private readonly poll: BackgroundTask;

  constructor(cfg: EngineConfig) {
    super(cfg);
    this.poll = new BackgroundTask({
      clock: cfg.clock,
      random: cfg.random,
      everyMs: cfg.pollIntervalMs,
      ready: () => true,
      run: () => this.refresh(),
      failed: (err) => cfg.onBackgroundError(err),
    });
  }

  async open(): Promise<void> {
    if (this.cfg.diskCacheDir) await mkdir(this.cfg.diskCacheDir, { recursive: true });
    const { manifest: latest } = await this.manifests.readLatest(0);
    if (latest) this.adoptManifest(latest);
    this.prefetchL0();
    this.stats.walReplayed = await this.pullWal();
    this.poll.start();
  }

  async close(): Promise<void> {
    await this.poll.stop();
    await this.refreshing?.catch(() => undefined);
  }

  write(): never {
    throw new ReadOnlyError('write');
  }

  async flushMemtable(): Promise<void> {
    throw new ReadOnlyError('flush');
  }

  async compactNow(): Promise<void> {
    throw new ReadOnlyError('compact');
  }

  async runGc(): Promise<GcResult> {
    throw new ReadOnlyError('run GC');
  }

  /**
   * Catches up with the writer now: a newer manifest and new WAL objects, looked for at once (a
   * LIST of manifests, and GETs of the next WAL slots: see `WalReader.follow`). Calls `onRefresh`
   * as soon as it applied anything new (the event log above re-reads its head then): after each
   * new WAL object, not once at the end, since a follower of a busy writer finds more slots on
   * every round of GETs and its pull ends only when it reaches a slot not written yet.
   */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        // The manifest and the WAL are looked for at once, and each tells the event log above as
        // soon as it brought something new: new WAL objects are not held back by the LIST.
        const manifest = this.manifests.readLatest(this.manifest.version).then(({ manifest: latest }) => {
          if (latest && latest.version > this.manifest.version) {
            this.adoptManifest(latest);
            this.cfg.onRefresh?.();
          }
        });
        const from = this.lastWalId + 1;
        const follow = (next: number, apply: (batches: WalBatch[], slot: number) => void) => this.walReader.follow(next, apply, this.lastFound + 1);
        const notify = () => this.cfg.onRefresh?.();
        await Promise.all([manifest, this.pullWal(follow, notify)]);
        // A manifest that moved the replay point past where the WAL pull started (a follower far
        // behind, whose next slots may be gone): continue from there now, not a poll later.
        if (this.manifest.walReplayFrom > from) await this.pullWal(follow, notify);
        this.lastFound = this.lastWalId + 1 - from;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Installs a manifest's tables and rebuilds the memtable from the WAL objects after its replay point. */
  private adoptManifest(m: Manifest): void {
    this.manifest = m;
    this.installTables(m);
    for (const id of [...this.walTail.keys()]) if (id < m.walReplayFrom) this.walTail.delete(id);
    const mem = new Memtable();
    for (const id of [...this.walTail.keys()].sort((a, b) => a - b)) {
      for (const b of this.walTail.get(id) as WalBatch[]) mem.apply(b);
    }
    this.mem = mem;
    this.lastWalId = Math.max(this.lastWalId, m.walReplayFrom - 1);
  }

  /**
   * Reads WAL slots after the last one applied (by LIST at open, by GETs when polling). A slot
   * below the manifest's replay point is in a table already and is not applied: the manifest may
   * move while the pull is under way. `applied` runs after each WAL object applied. Returns how
   * many it applied.
   */
  private async pullWal(
    read: (from: number, apply: (batches: WalBatch[], slot: number) => void) => Promise<number> = (from, apply) => this.walReader.replay(from, apply),
    applied?: () => void,
  ): Promise<number> {
    let count = 0;
    const next = await read(this.lastWalId + 1, (batches, id) => {
      if (id >= this.manifest.walReplayFrom) {
        this.walTail.set(id, batches);
        this.applyAll(batches);
        count++;
        this.lastWalId = Math.max(this.lastWalId, id);
        applied?.();
      }
    });
    this.lastWalId = Math.max(this.lastWalId, next - 1);
    return count;
  }
}
