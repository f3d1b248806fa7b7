/**
 * A consumer group on a log: follows the streams matching its pattern, leases each stream to one
 * member at a time, delivers in stream order within each member's credit window, and keeps a
 * durable checkpoint (a low watermark plus the streams not done below it) in the log's store.
 * Members join in process ({@link ConsumerGroup.consume}) or from other processes through
 * `serveGroup`. The decisions are the state machine's (`state.ts`); this module drives it with the
 * log, timers and members. The checkpoint's storage is `checkpoint-store.ts`, the member session
 * and the in-process member `member.ts`. Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { compilePattern, type EventLog, InvalidArgumentError, type Logger, type RecordedEvent, type StreamAppend, silentLogger } from '@strand/core';
import type { RestoredEntry } from './checkpoint.js';
import { CheckpointStore, type GroupStart } from './checkpoint-store.js';
import type { Delivery, DeliveryRef, GroupParkedStream, ReadRequest } from './delivery.js';
import { GroupClosedError } from './errors.js';
import { type AckEffects, type GroupHandler, type GroupMember, type MemberSession, runMember } from './member.js';
import { GroupState } from './state.js';
import { type GroupTuning, tuningFrom } from './tuning.js';

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
  /** What waits for the next checkpoint write (acks, retries, drains): one promise for all of them. */
  private nextWrite: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  private readonly ticker: NodeJS.Timeout;
  private readonly removeHook: () => void;
  private readsInFlight = 0;
  private readonly readBacklog: ReadRequest[] = [];
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
    private readonly checkpoint: CheckpointStore,
    saved: { watermark: number; streams: Map<string, RestoredEntry> },
    readonly tuning: GroupTuning,
    private readonly checkpointIntervalMs: number,
    private readonly clock: () => number,
    private readonly logger: Logger,
  ) {
    this.state = new GroupState(name, tuning, { watermark: saved.watermark, incarnation: checkpoint.incarnation, streams: saved.streams });
    this.removeHook = checkpoint.attach(log, name);
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
    const tuning = tuningFrom(options);
    const interval = options.checkpointIntervalMs ?? 20;
    if (!Number.isSafeInteger(interval) || interval < 0) throw new InvalidArgumentError('checkpointIntervalMs must be an integer >= 0.');
    const { store, restored } = await CheckpointStore.open(log, name, pattern, options.start ?? 'beginning');
    const group = new ConsumerGroup(log, name, pattern, store, restored, tuning, interval, options.clock ?? Date.now, options.logger ?? silentLogger);
    // Failover: the previous coordinator died, and its members may still be finishing deliveries
    // it leased (a member whose coordinator is gone keeps a lease until sessionTimeoutMs after its
    // last heartbeat). Nothing is delivered until those leases have run out, so no stream runs
    // on an old member and a new one at once.
    if (restored.unclean) group.holdUntil = group.clock() + tuning.sessionTimeoutMs;
    group.lastPersistedWatermark = restored.watermark;
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

  private async read(r: ReadRequest): Promise<void> {
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
    const waiting = this.nextWrite;
    this.nextWrite = undefined;
    this.persisting = this.persisting.then(async () => {
      const plan = this.state.plan();
      try {
        await this.checkpoint.write(plan, this.cleanClose);
        this.lastPersistedWatermark = plan.watermark;
        waiting?.resolve();
      } catch (error) {
        this.state.planFailed(plan);
        this.logger.warn({ group: this.name, err: error }, 'checkpoint write failed; retrying');
        // What waited for this write waits for the next one.
        if (waiting !== undefined) {
          if (this.nextWrite === undefined) this.nextWrite = waiting;
          else this.nextWrite.promise.then(waiting.resolve, waiting.reject);
        }
        this.schedulePersist();
      }
    });
    return this.persisting;
  }

  /** Resolves once the next checkpoint write is done (one promise shared by everything that waits for it). */
  private durable(): Promise<void> {
    if (this.nextWrite === undefined) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.nextWrite = { promise, resolve, reject };
    }
    this.schedulePersist();
    return this.nextWrite.promise;
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
    const id = `${this.name}.${this.checkpoint.incarnation}.${++this.memberSeq}`;
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
      // Not async: acks made durable by the same checkpoint write share its promise, so a
      // member's socket answers a run of them with one callback.
      ack: (ref, effects) => {
        try {
          this.assertOpen();
          if (effects === undefined || effects.appends.length === 0) {
            this.state.ack(id, ref, this.clock());
            done();
            return this.durable();
          }
        } catch (error) {
          return Promise.reject(error);
        }
        return this.commitWithAck(id, ref, effects).then(done);
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
      this.checkpoint.mark(markId, ref.stream, acked);
      const result = await this.log.appendMulti(parts);
      if (result.results.every((r) => r.idempotent)) throw new InvalidArgumentError('The effects were already committed (their event ids exist): the ack was not recorded with them.');
      ok = true;
      this.checkpoint.committed(ref.stream, acked);
    } finally {
      if (markId !== undefined) this.checkpoint.unmark(markId);
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
    return runMember((deliver) => this.join(deliver, options), handler, { group: this.name, sessionTimeoutMs: this.tuning.sessionTimeoutMs, logger: this.logger });
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
    this.nextWrite?.reject(new GroupClosedError(this.name));
    this.nextWrite = undefined;
    this.sessions.clear();
  }
}
