/**
 * Per-tenant usage counters. Append-side counters are written by a commit hook in the same atomic
 * batch as the events (exact, never lost, and the storage and stream quotas are enforced there);
 * read-side counters live in memory and are flushed periodically and on close (a crash loses at
 * most one flush interval of them). Design: docs/design/0008-tenancy.md, "Metering".
 *
 * @module
 */
import type { CommitHook, CommitTx, Sublevel, WorkMeter } from '../plugins.js';
import type { JsonTextEvent, RecordedEvent } from '../types.js';
import { eventBytes, jsonTextEventBytes } from './bytes.js';
import { QuotaExceededError } from './errors.js';
import type { TenantQuotas } from './quotas.js';

/** Counters written atomically with appends. */
export interface AppendTotals {
  /** Successful appends (calls). */
  appends: number;
  /** Events appended. */
  eventsAppended: number;
  /** Logical bytes appended (see `eventBytes`). */
  bytesAppended: number;
  /** Streams created. */
  streams: number;
}

/** Counters kept in memory and flushed periodically. */
export interface ReadTotals {
  /** Events delivered by reads and subscriptions. */
  eventsRead: number;
  /** Logical bytes delivered. */
  bytesRead: number;
  /** Subscriptions ever opened. */
  subscriptionsOpened: number;
  /** Aggregate snapshots written. */
  snapshotsWritten: number;
  /** Bytes of snapshot records written (JSON, as stored). */
  snapshotBytes: number;
  /** Events committed by the tenant's projections. */
  projectionEvents: number;
}

/** A tenant's usage. */
export interface TenantUsage extends AppendTotals, ReadTotals {
  /** Logical bytes stored (as counted against the storageBytes quota). */
  storageBytes: number;
  /** Subscriptions open now. */
  subscriptionsOpen: number;
}

const ZERO_APPEND: AppendTotals = { appends: 0, eventsAppended: 0, bytesAppended: 0, streams: 0 };

/** The commit hook that counts appends and enforces the storage and stream quotas of one tenant. */
export class MeteringHook implements CommitHook {
  readonly name = 'metering';

  constructor(
    private readonly db: Sublevel,
    private readonly quotas: () => TenantQuotas,
  ) {}

  async onCommit(events: readonly RecordedEvent[], tx: CommitTx): Promise<void> {
    const before = ((await tx.get(this.db, 'append')) as AppendTotals | undefined) ?? ZERO_APPEND;
    let bytes = 0;
    let streams = 0;
    for (const e of events) {
      bytes += eventBytes(e);
      if (e.version === 1) streams++;
    }
    const after: AppendTotals = {
      appends: before.appends + 1,
      eventsAppended: before.eventsAppended + events.length,
      bytesAppended: before.bytesAppended + bytes,
      streams: before.streams + streams,
    };
    const q = this.quotas();
    // Checked here, inside the commit, so concurrent appends cannot overshoot: a throw fails this append only.
    if (q.streams !== undefined && streams > 0 && after.streams > q.streams) throw new QuotaExceededError('streams', q.streams);
    if (q.storageBytes !== undefined && after.bytesAppended > q.storageBytes) throw new QuotaExceededError('storageBytes', q.storageBytes);
    tx.put(this.db, 'append', after);
  }

  /** The committed append counters. */
  async totals(): Promise<AppendTotals> {
    return ((await this.db.get('append')) as AppendTotals | undefined) ?? { ...ZERO_APPEND };
  }
}

/** Read-side counters of one tenant, flushed to `db` under `read`. */
export class ReadMeter {
  readonly totals: ReadTotals = { eventsRead: 0, bytesRead: 0, subscriptionsOpened: 0, snapshotsWritten: 0, snapshotBytes: 0, projectionEvents: 0 };
  private dirty = false;

  private constructor(private readonly db: Sublevel) {}

  /** Loads the last flushed counters. */
  static async open(db: Sublevel): Promise<ReadMeter> {
    const m = new ReadMeter(db);
    const stored = (await db.get('read')) as ReadTotals | undefined;
    if (stored !== undefined) Object.assign(m.totals, stored);
    return m;
  }

  /** Counts one delivered event. */
  read(e: RecordedEvent): void {
    this.totals.eventsRead++;
    this.totals.bytesRead += eventBytes(e);
    this.dirty = true;
  }

  /** Counts one delivered event whose payload is JSON text (`followJson`): the same bytes as {@link ReadMeter.read}. */
  readJson(e: JsonTextEvent): void {
    this.totals.eventsRead++;
    this.totals.bytesRead += jsonTextEventBytes(e);
    this.dirty = true;
  }

  /** Counts snapshot and projection work reported by the tenant's log (a {@link WorkMeter}). */
  readonly work: WorkMeter = (kind, amount) => {
    if (!Number.isFinite(amount) || amount <= 0) return;
    this.totals[kind] += amount;
    this.dirty = true;
  };

  /** Counts one opened subscription. */
  subscribed(): void {
    this.totals.subscriptionsOpened++;
    this.dirty = true;
  }

  /** Writes the counters if they changed. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await this.db.put('read', { ...this.totals });
  }
}
