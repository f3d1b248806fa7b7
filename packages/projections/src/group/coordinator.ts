/**
 * A consumer group on a log: follows the streams matching its pattern, leases each stream to one
 * member at a time, delivers in stream order within each member's credit window, and keeps a
 * durable checkpoint (a low watermark plus the streams not done below it) in the log's store.
 * Members join in process ({@link ConsumerGroup.consume}) or from other processes through
 * `serveGroup`. Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { compilePattern, type EventLog, InvalidArgumentError, type Logger, type RecordedEvent, type StreamAppend, silentLogger, type Sublevel } from '@strand/core';
import { GROUP_CATALOG } from './admin.js';
import { GroupClosedError } from './errors.js';
import { type CheckpointEntry, type CheckpointPlan, type Delivery, type DeliveryRef, defaultTuning, GroupState, type GroupParkedStream, type GroupTuning, type RestoredEntry } from './state.js';

/** Where a new group starts. Ignored when the group already has a checkpoint. */
export type GroupStart = 'beginning' | 'end' | { position: number };

/** Options of {@link ConsumerGroup.open}. */
export interface GroupOptions extends Partial<GroupTuning> {
  /** Group name: 1 to 48 letters, digits, '-' or '_'. */
  name: string;
  /** Streams the group consumes, e.g. `orders/>`. */
  pattern: string;
  /** Where a new group starts (default `'beginning'`). */
  start?: GroupStart;
  /** Most time between an ack and the checkpoint write that makes it durable (default 20 ms). */
  checkpointIntervalMs?: number;
  /** Clock (ms). */
  clock?: () => number;
  /** Structured logger. */
  logger?: Logger;
}

/** Effects a handler commits together with its ack (exactly-once effects). */
export interface AckEffects {
  /** Appends committed in the same atomic commit as the ack. */
  appends: readonly StreamAppend[];
}

/** A member's connection to the group: what `consume` and the network server build on. */
export interface MemberSession {
  /** The member's id (unique across coordinator restarts). */
  readonly id: string;
  /** A sign of life (any ack or nack counts too). */
  heartbeat(): void;
  /**
   * Acknowledges a delivery. With `effects`, the appends and the ack are one atomic commit: if the
   * lease has moved the commit is refused whole (`STRAND_GROUP_STALE_LEASE`), so the effects
   * happen exactly once. Resolves once the ack is durable.
   */
  ack(ref: DeliveryRef, effects?: AckEffects): Promise<void>;
  /** Reports a failed delivery: retried after a backoff (or `delayMs`), parked after `maxAttempts`. */
  nack(ref: DeliveryRef, error: string, delayMs?: number): void;
  /** Leaves gracefully: deliveries in flight may still be acked; nothing new arrives. */
  leave(): void;
  /** Drops the member at once (its connection is gone): its deliveries go to other members. */
  expire(): void;
}

/** Where a group stands. */
export interface GroupStatus {
  /** Group name. */
  name: string;
  /** Its pattern. */
  pattern: string;
  /** Every matching event at or below it is acknowledged or parked, except the tracked streams. */
  watermark: number;
  /** The log's head. */
  head: number;
  /** Streams with work pending, in flight or parked. */
  activeStreams: number;
  /** Members and their leases. */
  members: Array<{ id: string; leases: number; inflight: number }>;
  /** Parked streams. */
  parked: GroupParkedStream[];
}

/** What a handler of {@link ConsumerGroup.consume} returns: nothing, or effects to commit with the ack. */
export type GroupHandler = (delivery: Delivery) => void | AckEffects | Promise<void | AckEffects>;

/** An in-process member started by {@link ConsumerGroup.consume}. */
export interface GroupMember {
  /** Its id. */
  readonly id: string;
  /** Leaves gracefully and resolves when its deliveries in flight are settled. */
  leave(): Promise<void>;
}

const pad = (v: number) => v.toString().padStart(16, '0');
const FORMAT = 1;

interface SavedState {
  format: number;
  pattern: string;
  watermark: number;
  incarnation: number;
  /** Written by `close`: no member of this incarnation can still hold a lease. */
  clean?: boolean;
}

/** A consumer group: per-stream leases over any number of members, in order, with per-stream parking. */
export class ConsumerGroup {
  private readonly state: GroupState;
  private readonly sessions = new Map<string, (d: Delivery) => void>();
  private readonly abort = new AbortController();
  private feeder: Promise<void> | undefined;
  private readonly roomWaiters: Array<() => void> = [];
  private pumpScheduled = false;
  private persistTimer: NodeJS.Timeout | undefined;
  private persisting: Promise<void> = Promise.resolve();
  private ackWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private readonly ticker: NodeJS.Timeout;
  private readonly marks = new Map<string, { stream: string; version: number }>();
  /** Exactly-once ack keys written by commits, deleted once the checkpoint covers them. */
  private readonly xKeys = new Map<string, number[]>();
  private readonly removeHook: () => void;
  private readsInFlight = 0;
  private readonly readBacklog: Array<{ stream: string; from: number; limit: number; to: number }> = [];
  private memberSeq = 0;
  private drainWaiters: Array<{ position: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  private closed = false;
  private lastPersistedWatermark = -1;
  /** Deliveries wait until then after a coordinator that did not close (failover). */
  private holdUntil = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  /** Closed with no delivery in flight: a successor need not wait for leases to run out. */
  private cleanClose = false;

  private constructor(
    private readonly log: EventLog,
    readonly name: string,
    readonly pattern: string,
    private readonly meta: Sublevel,
    private readonly incarnation: number,
    saved: { watermark: number; streams: Map<string, RestoredEntry> },
    readonly tuning: GroupTuning,
    private readonly checkpointIntervalMs: number,
    private readonly clock: () => number,
    private readonly logger: Logger,
  ) {
    this.state = new GroupState(name, tuning, { watermark: saved.watermark, incarnation, streams: saved.streams });
    this.removeHook = log.addCommitHook({
      name: `group:${name}`,
      onCommit: (events, tx) => {
        if (this.marks.size === 0) return;
        for (const e of events) {
          const mark = this.marks.get(e.id);
          if (mark === undefined) continue;
          this.marks.delete(e.id);
          tx.put(this.meta, `x:${mark.stream}:${pad(mark.version)}`, 1);
        }
      },
    });
    const every = Math.max(5, Math.min(250, Math.floor(tuning.sessionTimeoutMs / 4)));
    this.ticker = setInterval(() => {
      this.state.tick(this.clock());
      this.kick();
    }, every);
    this.ticker.unref();
  }

  /**
   * Opens (or creates) a group on a log and starts following it. One process owns a group: the
   * one that owns the log (members elsewhere connect to it with `serveGroup`/`connectGroup`).
   *
   * @example
   * ```ts
   * const group = await ConsumerGroup.open(log, { name: 'billing', pattern: 'orders/>' });
   * group.consume(async (d) => { await bill(d.events[0]); });
   * ```
   */
  static async open(log: EventLog, options: GroupOptions): Promise<ConsumerGroup> {
    if (log === null || typeof log !== 'object' || typeof log.follow !== 'function') throw new InvalidArgumentError('ConsumerGroup.open needs an open EventLog.');
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('ConsumerGroup.open needs options { name, pattern }.');
    const { name, pattern } = options;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,48}$/.test(name)) throw new InvalidArgumentError(`A group name is 1 to 48 letters, digits, '-' or '_'; got ${JSON.stringify(name)}.`);
    compilePattern(pattern);
    const tuning: GroupTuning = { ...defaultTuning };
    for (const k of Object.keys(defaultTuning) as Array<keyof GroupTuning>) {
      const v = options[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (k === 'backoffMs' || k === 'maxBackoffMs' ? 0 : 1)) throw new InvalidArgumentError(`${k} must be an integer >= ${k === 'backoffMs' || k === 'maxBackoffMs' ? 0 : 1}.`);
      tuning[k] = v;
    }
    const interval = options.checkpointIntervalMs ?? 20;
    if (!Number.isSafeInteger(interval) || interval < 0) throw new InvalidArgumentError('checkpointIntervalMs must be an integer >= 0.');
    const meta = log.sublevel(`group-${name}`);
    const saved = (await meta.get('state')) as SavedState | undefined;
    if (saved !== undefined && saved.pattern !== pattern) {
      throw new InvalidArgumentError(`Group ${name} exists with pattern ${saved.pattern}, not ${pattern}. Use another name for another pattern.`);
    }
    let watermark = saved?.watermark ?? startPosition(log, options.start ?? 'beginning');
    const incarnation = (saved?.incarnation ?? 0) + 1;
    const entries = new Map<string, CheckpointEntry>();
    const x = new Map<string, number>();
    for await (const [key, value] of meta.iterator({ gte: 's:', lt: 's;' })) entries.set((key as string).slice(2), value as CheckpointEntry);
    const xKeys = new Map<string, number[]>();
    for await (const key of meta.keys({ gte: 'x:', lt: 'x;' })) {
      const k = key as string;
      const stream = k.slice(2, k.length - 17);
      const version = Number(k.slice(k.length - 16));
      x.set(stream, Math.max(x.get(stream) ?? 0, version));
      xKeys.set(stream, [...(xKeys.get(stream) ?? []), version]);
    }
    const streams = new Map<string, RestoredEntry>();
    for (const stream of new Set([...entries.keys(), ...x.keys()])) {
      const entry = entries.get(stream);
      // An ack committed with its effects counts even if the checkpoint never saw the stream.
      const acked = Math.max(entry?.acked ?? 0, x.get(stream) ?? 0);
      const [known, knownPosition] = await lastAtOrBelow(log, stream, watermark, acked);
      streams.set(stream, { acked, parked: entry?.parked, known, knownPosition });
    }
    watermark = Math.max(0, watermark);
    await meta.put('state', { format: FORMAT, pattern, watermark, incarnation } satisfies SavedState);
    await log.sublevel(GROUP_CATALOG).put(name, { name, pattern });
    const group = new ConsumerGroup(log, name, pattern, meta, incarnation, { watermark, streams }, tuning, interval, options.clock ?? Date.now, options.logger ?? silentLogger);
    // Failover: the previous coordinator died, and its members may still be finishing deliveries
    // it leased (a member whose coordinator is gone keeps a lease until sessionTimeoutMs after its
    // last heartbeat). Nothing is delivered until those leases have run out, so no stream runs
    // on an old member and a new one at once.
    if (saved !== undefined && saved.clean !== true) group.holdUntil = group.clock() + tuning.sessionTimeoutMs;
    for (const [s, vs] of xKeys) group.xKeys.set(s, vs);
    group.lastPersistedWatermark = watermark;
    group.feeder = group.follow().catch((error: unknown) => group.fail(error));
    group.kick();
    return group;
  }

  private async follow(): Promise<void> {
    const matches = compilePattern(this.pattern);
    // The whole log, so the watermark also passes positions of other streams.
    for await (const event of this.log.follow('>', { from: this.state.watermark + 1, signal: this.abort.signal })) {
      if (!matches.matches(event.stream)) {
        this.state.advanceWatermark(event.position);
        this.kick();
        continue;
      }
      while (!this.state.hasRoom) {
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
        if (this.closed) return;
      }
      this.state.onEvent(event);
      this.kick();
    }
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    this.logger.error({ group: this.name, err: error }, 'consumer group stopped');
    void this.close();
  }

  /** Schedules one pass of assignment and delivery. */
  private kick(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pumpNow();
    });
  }

  private pumpNow(): void {
    if (this.closed) return;
    const now = this.clock();
    if (now < this.holdUntil) {
      this.holdTimer ??= setTimeout(() => {
        this.holdTimer = undefined;
        this.kick();
      }, this.holdUntil - now);
      if (this.state.hasRoom && this.roomWaiters.length > 0) for (const w of this.roomWaiters.splice(0)) w();
      return;
    }
    for (const { member, delivery } of this.state.pump(now)) {
      const send = this.sessions.get(member);
      if (send === undefined) continue;
      try {
        send(delivery);
      } catch (error) {
        this.logger.warn({ group: this.name, member, err: error }, 'delivery failed: member dropped');
        this.state.expire(member, now);
        this.sessions.delete(member);
      }
    }
    for (const r of this.state.takeReads()) this.readBacklog.push(r);
    while (this.readsInFlight < 32 && this.readBacklog.length > 0) void this.read(this.readBacklog.shift()!);
    if (this.state.hasRoom && this.roomWaiters.length > 0) for (const w of this.roomWaiters.splice(0)) w();
    if (this.state.dirtyCount > 0 || this.state.watermark !== this.lastPersistedWatermark) this.schedulePersist();
    this.checkDrained();
  }

  private async read(r: { stream: string; from: number; limit: number; to: number }): Promise<void> {
    this.readsInFlight++;
    const events: RecordedEvent[] = [];
    let failed = false;
    try {
      for await (const e of this.log.readStream(r.stream, { from: r.from, limit: r.limit, ifTruncated: 'skip' })) {
        if (e.position > r.to) break;
        events.push(e);
      }
    } catch (error) {
      failed = true;
      this.logger.warn({ group: this.name, stream: r.stream, err: error }, 'read failed; retrying');
    } finally {
      this.readsInFlight--;
    }
    this.state.onRead(r.stream, events, failed);
    this.kick();
  }

  private schedulePersist(): void {
    if (this.persistTimer !== undefined || this.closed) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.persist();
    }, this.checkpointIntervalMs);
  }

  /** Writes the checkpoint: the watermark and the changed stream entries in one batch. */
  private persist(): Promise<void> {
    const waiters = this.ackWaiters;
    this.ackWaiters = [];
    this.persisting = this.persisting.then(async () => {
      const plan = this.state.plan();
      const ops: Array<{ type: 'put' | 'del'; key: string; value?: unknown }> = [];
      const cleared: Array<[string, number[]]> = [];
      ops.push({ type: 'put', key: 'state', value: { format: FORMAT, pattern: this.pattern, watermark: plan.watermark, incarnation: this.incarnation, ...(this.cleanClose ? { clean: true } : {}) } satisfies SavedState });
      for (const [stream, entry] of plan.puts) {
        ops.push({ type: 'put', key: `s:${stream}`, value: entry });
        cleared.push([stream, this.clearX(stream, entry.acked, ops)]);
      }
      for (const stream of plan.dels) {
        ops.push({ type: 'del', key: `s:${stream}` });
        cleared.push([stream, this.clearX(stream, Number.MAX_SAFE_INTEGER, ops)]);
      }
      try {
        await this.meta.batch(ops as never);
        this.lastPersistedWatermark = plan.watermark;
        for (const w of waiters) w.resolve();
      } catch (error) {
        this.undoPlan(plan, cleared);
        this.logger.warn({ group: this.name, err: error }, 'checkpoint write failed; retrying');
        this.ackWaiters.push(...waiters);
        this.schedulePersist();
      }
    });
    return this.persisting;
  }

  private undoPlan(plan: CheckpointPlan, cleared: Array<[string, number[]]>): void {
    this.state.planFailed(plan);
    for (const [stream, versions] of cleared) if (versions.length > 0) this.xKeys.set(stream, [...(this.xKeys.get(stream) ?? []), ...versions]);
  }

  /** Deletes the exactly-once keys of a stream the checkpoint now covers. */
  private clearX(stream: string, acked: number, ops: Array<{ type: 'put' | 'del'; key: string }>): number[] {
    const versions = this.xKeys.get(stream);
    if (versions === undefined) return [];
    const gone = versions.filter((v) => v <= acked);
    const kept = versions.filter((v) => v > acked);
    for (const v of gone) ops.push({ type: 'del', key: `x:${stream}:${pad(v)}` });
    if (kept.length > 0) this.xKeys.set(stream, kept);
    else this.xKeys.delete(stream);
    return gone;
  }

  private durable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ackWaiters.push({ resolve, reject });
      this.schedulePersist();
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new GroupClosedError(this.name);
  }

  /**
   * Adds a member; `deliver` receives its deliveries. The low-level form that `consume` and the
   * network server use.
   */
  join(deliver: (d: Delivery) => void, options: { credits?: number } = {}): MemberSession {
    this.assertOpen();
    const credits = options.credits ?? 16;
    if (!Number.isSafeInteger(credits) || credits < 1) throw new InvalidArgumentError('credits must be an integer >= 1.');
    const id = `${this.name}.${this.incarnation}.${++this.memberSeq}`;
    this.state.join(id, credits, this.clock());
    this.sessions.set(id, deliver);
    this.kick();
    const done = () => {
      this.kick();
    };
    return {
      id,
      heartbeat: () => {
        this.assertOpen();
        this.state.heartbeat(id, this.clock());
      },
      ack: async (ref, effects) => {
        this.assertOpen();
        if (effects === undefined || effects.appends.length === 0) {
          this.state.ack(id, ref, this.clock());
          done();
          return this.durable();
        }
        await this.commitWithAck(id, ref, effects);
        done();
      },
      nack: (ref, error, delayMs) => {
        this.assertOpen();
        this.state.nack(id, ref, String(error), this.clock(), delayMs);
        done();
      },
      leave: () => {
        if (this.closed) return;
        this.state.leave(id, this.clock());
        done();
      },
      expire: () => {
        if (this.closed) return;
        this.state.expire(id, this.clock());
        this.sessions.delete(id);
        done();
      },
    };
  }

  /** Exactly-once: the effects and the ack key are one atomic commit, refused whole if the lease moved. */
  private async commitWithAck(member: string, ref: DeliveryRef, effects: AckEffects): Promise<void> {
    const now = this.clock();
    this.state.beginCommit(member, ref, now);
    const inflight = this.state.inspect(ref.stream)?.inflight;
    const acked = ref.version + (inflight?.count ?? 1) - 1;
    let markId: string | undefined;
    let ok = false;
    try {
      const parts: StreamAppend[] = effects.appends.map((p) => ({ ...p, events: p.events.map((e) => ({ ...e, id: e.id ?? randomUUID() })) }));
      markId = parts[0]?.events[0]?.id;
      if (markId === undefined) throw new InvalidArgumentError('An ack with effects needs at least one event to append.');
      this.marks.set(markId, { stream: ref.stream, version: acked });
      const result = await this.log.appendMulti(parts);
      if (result.results.every((r) => r.idempotent)) throw new InvalidArgumentError('The effects were already committed (their event ids exist): the ack was not recorded with them.');
      ok = true;
      this.xKeys.set(ref.stream, [...(this.xKeys.get(ref.stream) ?? []), acked]);
    } finally {
      if (markId !== undefined) this.marks.delete(markId);
      this.state.endCommit(ref.stream, ok, this.clock());
      this.kick();
    }
  }

  /**
   * Runs a handler as an in-process member: each delivery's handler result acks it (returning
   * `{ appends }` commits them with the ack, exactly once); a throw nacks it.
   */
  consume(handler: GroupHandler, options: { credits?: number } = {}): GroupMember {
    if (typeof handler !== 'function') throw new InvalidArgumentError('consume needs a handler function.');
    let inflight = 0;
    let idle: (() => void) | undefined;
    let leaving = false;
    const run = async (d: Delivery) => {
      inflight++;
      const ref = { stream: d.stream, epoch: d.epoch, version: d.events[0]!.version };
      try {
        let result: void | AckEffects;
        try {
          result = await handler(d);
        } catch (error) {
          session.nack(ref, String((error as Error)?.message ?? error));
          return;
        }
        await session.ack(ref, result ?? undefined).catch((error: unknown) => {
          this.logger.warn({ group: this.name, member: session.id, stream: d.stream, err: error }, 'ack refused');
          if (!(error instanceof Error && 'code' in error && (error as { code: string }).code === 'STRAND_GROUP_STALE_LEASE')) {
            try {
              session.nack(ref, String((error as Error)?.message ?? error));
            } catch {}
          }
        });
      } catch (error) {
        this.logger.warn({ group: this.name, member: session.id, err: error }, 'member error');
      } finally {
        inflight--;
        if (inflight === 0) idle?.();
      }
    };
    const session = this.join((d) => void run(d), options);
    const beat = setInterval(
      () => {
        try {
          session.heartbeat();
        } catch {
          clearInterval(beat);
        }
      },
      Math.max(5, Math.floor(this.tuning.sessionTimeoutMs / 3)),
    );
    beat.unref();
    return {
      id: session.id,
      leave: async () => {
        if (leaving) return;
        leaving = true;
        session.leave();
        if (inflight > 0) await new Promise<void>((resolve) => (idle = resolve));
        clearInterval(beat);
      },
    };
  }

  /** Parked streams. */
  parked(): GroupParkedStream[] {
    return this.state.parked();
  }

  /** Delivers a parked stream again from its failed event. Resolves false if it was not parked. */
  async retry(stream: string): Promise<boolean> {
    this.assertOpen();
    const ok = this.state.retry(stream);
    this.kick();
    if (ok) await this.durable();
    return ok;
  }

  /** Skips the failed event of a parked stream and delivers the rest. Resolves false if it was not parked. */
  async skip(stream: string): Promise<boolean> {
    this.assertOpen();
    const ok = this.state.skip(stream);
    this.kick();
    if (ok) await this.durable();
    return ok;
  }

  /** Where the group stands. */
  status(): GroupStatus {
    return {
      name: this.name,
      pattern: this.pattern,
      watermark: this.state.watermark,
      head: this.log.position,
      activeStreams: this.state.activeCount,
      members: this.state.memberIds().map((id) => ({ id, leases: this.state.leasesOf(id).length, inflight: this.state.inflightOf(id) })),
      parked: this.state.parked(),
    };
  }

  /** Runs assignment and delivery now (they also run by themselves after every change). */
  pump(): void {
    this.assertOpen();
    this.pumpNow();
  }

  /** The state machine, for tests in this package. */
  get internals(): GroupState {
    return this.state;
  }

  /**
   * Resolves once every matching event up to `position` (default: the log's head) is acknowledged
   * or parked, and durable.
   */
  async drained(position = this.log.position): Promise<void> {
    this.assertOpen();
    await new Promise<void>((resolve, reject) => {
      this.drainWaiters.push({ position, resolve, reject });
      this.kick();
    });
    await this.durable();
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0) return;
    // Only parked streams left (every other tracked stream is done).
    if (this.state.parkedTotal !== this.state.activeCount) return;
    const w = this.state.watermark;
    const still = this.drainWaiters.filter((d) => d.position > w);
    for (const d of this.drainWaiters) if (d.position <= w) d.resolve();
    this.drainWaiters = still;
  }

  /** Stops following and writes the checkpoint. Members get `STRAND_GROUP_CLOSED`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.cleanClose = this.state.memberIds().every((id) => this.state.inflightOf(id) === 0);
    this.closed = true;
    clearInterval(this.ticker);
    clearTimeout(this.holdTimer);
    if (this.persistTimer !== undefined) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    this.abort.abort();
    for (const w of this.roomWaiters.splice(0)) w();
    await this.feeder;
    this.removeHook();
    await this.persist();
    for (const d of this.drainWaiters.splice(0)) d.reject(new GroupClosedError(this.name));
    for (const w of this.ackWaiters.splice(0)) w.reject(new GroupClosedError(this.name));
    this.sessions.clear();
  }
}

function startPosition(log: EventLog, start: GroupStart): number {
  if (start === 'beginning') return 0;
  if (start === 'end') return log.position;
  if (start !== null && typeof start === 'object' && Number.isSafeInteger(start.position) && start.position >= 1) return start.position - 1;
  throw new InvalidArgumentError("start must be 'beginning', 'end' or { position } with an integer position >= 1.");
}

/** The version and position of a stream's last event at or below `watermark` (or of version `atLeast`). */
async function lastAtOrBelow(log: EventLog, stream: string, watermark: number, atLeast: number): Promise<[number, number]> {
  const info = await log.streamInfo(stream);
  if (info === undefined) return [atLeast, 0];
  let known = 0;
  let position = 0;
  if (info.lastPosition <= watermark) {
    known = info.version;
    position = info.lastPosition;
  } else {
    for await (const e of log.readStream(stream, { direction: 'backwards', ifTruncated: 'skip' })) {
      if (e.position <= watermark) {
        known = e.version;
        position = e.position;
        break;
      }
    }
  }
  if (atLeast > known) {
    for await (const e of log.readStream(stream, { from: atLeast, limit: 1, ifTruncated: 'skip' })) {
      known = e.version;
      position = e.position;
    }
  }
  return [known, position];
}
