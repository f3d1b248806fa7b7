/**
 * A repository's snapshot work, off the command path: which stored snapshot a load may start
 * from, writing one (synced before any truncation), one at a time per stream, and the retention
 * policy that truncates (and archives) the history a snapshot makes redundant.
 * Design and crash reasoning: docs/design/0004-snapshots.md.
 *
 * @module
 */
import { type EventStore, InvalidArgumentError, type Logger, type RecordedEvent } from '@strand/core';
import type { z } from 'zod';
import type { AggregateDefinition, SchemaMap } from './define.js';
import type { RepositoryStats } from './repository.js';
import type { RetentionPolicy, SnapshotRecord, SnapshotStore } from './snapshots.js';

/** What a {@link Snapshotter} works with: the repository's log, aggregate, options, counters and background queue. */
export interface SnapshotterContext<S extends z.ZodType> {
  log: EventStore;
  snapshots: SnapshotStore;
  aggregate: { readonly name: string; readonly stateVersion: number; readonly definition: Pick<AggregateDefinition<SchemaMap, SchemaMap, S>, 'state' | 'migrateSnapshot'> };
  retention: RetentionPolicy;
  clock: () => number;
  logger: Logger;
  stats: RepositoryStats;
  /** Runs `task` after the repository's earlier background work (`flush` waits for it); `task` never rejects. */
  background(task: () => Promise<void>): void;
}

/** Reads and writes one repository's snapshots and applies its retention policy. */
export class Snapshotter<S extends z.ZodType> {
  private readonly inFlight = new Set<string>();
  private readonly waiting = new Map<string, { state: z.output<S>; version: number }>();

  constructor(private readonly ctx: SnapshotterContext<S>) {}

  /**
   * The stored snapshot a load may start from: this aggregate's, not past the stream's head, of
   * today's state version (or migrated to it), and matching the state schema; else undefined.
   */
  async usable(stream: string, streamVersion: number): Promise<{ state: z.output<S>; version: number } | undefined> {
    const { aggregate, stats } = this.ctx;
    const rec = await this.ctx.snapshots.get(stream);
    if (rec === undefined || rec.aggregate !== aggregate.name || rec.version > streamVersion) return undefined;
    let candidate: unknown = rec.state;
    if (rec.stateVersion !== aggregate.stateVersion) {
      const migrate = aggregate.definition.migrateSnapshot;
      candidate = migrate ? migrate(rec.state, rec.stateVersion) : undefined;
      if (candidate === undefined) {
        stats.snapshotsIgnored++;
        return undefined;
      }
    }
    const parsed = aggregate.definition.state.safeParse(candidate);
    if (!parsed.success) {
      stats.snapshotsIgnored++;
      this.ctx.logger.warn({ stream, version: rec.version, issues: parsed.error.issues.length }, 'snapshot does not match the state schema; ignored');
      return undefined;
    }
    return { state: parsed.data as z.output<S>, version: rec.version };
  }

  /** Writes a snapshot in the background; never fails the caller (failures are counted and logged). */
  schedule(stream: string, state: z.output<S>, version: number): void {
    // One snapshot per stream at a time; a request that arrives meanwhile replaces any waiting one,
    // so a slow snapshot (or archive) delays the next but never drops the latest.
    if (this.inFlight.has(stream)) {
      const waiting = this.waiting.get(stream);
      if (waiting === undefined || waiting.version < version) this.waiting.set(stream, { state, version });
      return;
    }
    this.inFlight.add(stream);
    this.ctx.background(async () => {
      try {
        await this.write(stream, state, version);
      } catch (error) {
        this.ctx.stats.snapshotsFailed++;
        this.ctx.logger.warn({ stream, version, err: error }, 'snapshot failed; the command was not affected');
      } finally {
        this.inFlight.delete(stream);
        const next = this.waiting.get(stream);
        if (next !== undefined) {
          this.waiting.delete(stream);
          this.schedule(stream, next.state, next.version);
        }
      }
    });
  }

  /**
   * Writes a snapshot of `state` at `version` (unless as new a one is stored) and applies the
   * retention policy. Returns the snapshot version and how many events were truncated.
   */
  async write(stream: string, state: z.output<S>, version: number): Promise<{ version: number; truncated: number }> {
    const { aggregate, stats } = this.ctx;
    const parsed = aggregate.definition.state.safeParse(state);
    if (!parsed.success) throw new InvalidArgumentError(`State of ${stream} at version ${version} does not match ${aggregate.name}'s state schema: ${parsed.error.message}`);
    const record: SnapshotRecord = { format: 1, aggregate: aggregate.name, stateVersion: aggregate.stateVersion, version, state: parsed.data, takenAt: this.ctx.clock() };
    const current = await this.ctx.snapshots.get(stream);
    if (current !== undefined && current.version >= version && current.stateVersion === aggregate.stateVersion) return { version: current.version, truncated: 0 };
    // The snapshot is synced before any truncation below: a crash in between leaves the full
    // history plus a snapshot, never a truncated history without one.
    await this.ctx.snapshots.put(stream, record);
    stats.snapshotsWritten++;
    try {
      return { version, truncated: await this.applyRetention(stream, version) };
    } catch (error) {
      // The snapshot stands; only the truncation did not happen (it is tried again at the next one).
      stats.truncationsFailed++;
      this.ctx.logger.warn({ stream, version, err: error }, 'snapshot written, but retention failed (archive hook or truncation): history was not truncated');
      return { version, truncated: 0 };
    }
  }

  private async applyRetention(stream: string, snapshotVersion: number): Promise<number> {
    const { retention, log, stats } = this.ctx;
    if (retention.mode !== 'truncate') return 0;
    const before = snapshotVersion + 1 - (retention.keepLast ?? 0);
    const info = await log.streamInfo(stream);
    if (info === undefined || before <= info.truncatedBefore) return 0;
    if (retention.archive) {
      const old: RecordedEvent[] = [];
      for await (const e of log.readStream(stream, { from: info.truncatedBefore, limit: before - info.truncatedBefore })) old.push(e);
      await retention.archive(stream, old);
      stats.eventsArchived += old.length;
    }
    const t = await log.truncateBefore(stream, before);
    stats.eventsTruncated += t.removed;
    return t.removed;
  }
}
