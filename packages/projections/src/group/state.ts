/**
 * The consumer group's state machine: leases, deliveries, acks, retries, parking, heartbeats and
 * the checkpoint, with no I/O, no timers and no randomness of its own (time is passed in), so a
 * seeded simulation can drive it step by step. Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import type { RecordedEvent } from '@strand/core';
import { Lane, type ParkedStream, parkRecord } from '../lanes.js';
import { MemberExpiredError, StaleLeaseError } from './errors.js';

/** Tuning of a consumer group. */
export interface GroupTuning {
  /** Failed attempts (nacks, or deliveries lost with their member) before a stream parks (default 5). */
  maxAttempts: number;
  /** First retry delay in ms, doubling per attempt (default 100). */
  backoffMs: number;
  /** Longest retry delay in ms (default 30,000). */
  maxBackoffMs: number;
  /** A member that has not been heard from for this long loses its leases (default 10,000 ms). */
  sessionTimeoutMs: number;
  /** Events of one stream in one delivery, in order (default 1). */
  maxBatch: number;
  /** Events buffered in memory per stream (default 16); the rest are read from the log when due. */
  prefetch: number;
  /** Streams with pending work tracked at once (default 10,000): bounds memory and the checkpoint. */
  maxActiveStreams: number;
}

/** The default tuning. */
export const defaultTuning: GroupTuning = {
  maxAttempts: 5,
  backoffMs: 100,
  maxBackoffMs: 30_000,
  sessionTimeoutMs: 10_000,
  maxBatch: 1,
  prefetch: 16,
  maxActiveStreams: 10_000,
};

/** A stream whose events kept failing: its remaining events wait, in order, for retry or skip (the same record as a projection's). */
export type GroupParkedStream = ParkedStream;

/** What a member receives: one event, or an ordered batch, of one stream. */
export interface Delivery {
  /** The stream. */
  readonly stream: string;
  /** The lease epoch: acks carry it back, and are refused once the lease has moved. */
  readonly epoch: number;
  /** The events, in stream order (versions contiguous). */
  readonly events: readonly RecordedEvent[];
  /** 1 for the first delivery of the first event, then +1 per retry. */
  readonly attempt: number;
}

/** Identifies a delivery in an ack or nack. */
export interface DeliveryRef {
  /** The stream. */
  readonly stream: string;
  /** The lease epoch the delivery carried. */
  readonly epoch: number;
  /** Version of the delivery's first event. */
  readonly version: number;
}

/** A checkpoint entry: a stream with work in flight, pending or parked. */
export interface CheckpointEntry {
  /** Last acknowledged (or skipped) version. */
  acked: number;
  /** Set when the stream is parked. */
  parked?: GroupParkedStream;
}

/**
 * The durable checkpoint: a low watermark plus the small set of streams not done below it.
 * @public
 */
export interface GroupCheckpoint {
  /** Every matching event at or below this position is acknowledged or parked, except the streams listed. */
  watermark: number;
  /** Coordinator incarnation (lease epochs of a new incarnation never repeat an old one's). */
  incarnation: number;
  /** Streams with unacknowledged events at or below the watermark, or parked. */
  streams: Map<string, CheckpointEntry>;
}

/** A checkpoint entry as restored: with the stream's last event at or below the watermark. */
export interface RestoredEntry extends CheckpointEntry {
  /** Version of the stream's last event at or below the watermark. */
  known: number;
  /** Its position. */
  knownPosition: number;
}

/** The writes that bring the durable checkpoint up to date. */
export interface CheckpointPlan {
  /** The watermark to store. */
  watermark: number;
  /** Entries to write. */
  puts: Array<[string, CheckpointEntry]>;
  /** Entries to delete. */
  dels: string[];
}

/** A read the coordinator must do for a stream whose next events are not buffered. */
export interface ReadRequest {
  /** The stream. */
  stream: string;
  /** First version wanted. */
  from: number;
  /** Most events. */
  limit: number;
  /** Ignore events after this position (the group has not seen them yet). */
  to: number;
}

interface InFlight {
  member: string;
  epoch: number;
  version: number;
  count: number;
}

/**
 * A tracked stream: its {@link Lane} (shared with `ProjectionRunner`: events buffered from
 * acked+1, contiguous, the in-flight ones first, the rest left in the log and read back; attempts
 * and backoff) plus its lease.
 */
class StreamEntry extends Lane<RecordedEvent> {
  known: number;
  knownPosition = 0;
  lease: { member: string; epoch: number } | undefined;
  inflight: InFlight | undefined;
  /** An ack with effects is being committed: the lease cannot move until it settles. */
  committing = false;
  /** Move the lease once nothing is in flight. */
  revoke = false;
  parked: GroupParkedStream | undefined;
  /** The member whose ready queue holds this stream (once: the flag stands for membership). */
  readyIn: MemberEntry | undefined;

  constructor(
    readonly name: string,
    public acked: number,
  ) {
    super(name);
    this.known = acked;
  }
}

interface MemberEntry {
  readonly id: string;
  credits: number;
  inflight: number;
  lastSeen: number;
  /** Set by leave(): expires at this time even if it keeps heartbeating. */
  leaveBy: number | undefined;
  readonly leases: Set<string>;
  /**
   * Leased streams that may be deliverable, oldest first from `readyHead`. A queue, not a set:
   * pump takes from the front on every pass, and a set's iteration would walk past every entry
   * deleted since its last rehash (thousands with many leases). An entry counts only while its
   * stream's `readyIn` is this member; others are skipped.
   */
  ready: StreamEntry[];
  readyHead: number;
}

/** A delivery addressed to a member. */
export interface Addressed {
  /** The member. */
  member: string;
  /** The delivery. */
  delivery: Delivery;
}

/** The group state machine. Every method is synchronous and deterministic. */
export class GroupState {
  private readonly streams = new Map<string, StreamEntry>();
  private readonly members = new Map<string, MemberEntry>();
  private readonly unassigned = new Set<string>();
  private readonly retrying = new Set<string>();
  private readonly readQueue = new Set<string>();
  private readonly dirty = new Set<string>();
  /** Streams whose entry may be in the durable checkpoint (a superset: a del of a missing key is harmless). */
  private readonly onDisk = new Set<string>();
  private parkedCount = 0;
  private rotation = 0;
  /** Last member of streams that went idle: a stream coming back prefers it (stickiness). */
  private readonly affinity = new Map<string, string>();
  private watermarkValue: number;
  private epochCounter: number;
  /** Set when something changed that pump() may turn into deliveries. */
  private rebalanceDue = false;

  /**
   * @param group name, for errors.
   * @param tuning limits and timeouts.
   * @param saved the durable checkpoint to resume from.
   */
  constructor(
    readonly group: string,
    readonly tuning: GroupTuning,
    saved: { watermark: number; incarnation: number; streams: Map<string, RestoredEntry> },
  ) {
    this.watermarkValue = saved.watermark;
    // Epochs of this incarnation start above every epoch an earlier one could have handed out.
    this.epochCounter = saved.incarnation * 2 ** 32;
    for (const [name, entry] of saved.streams) {
      const s = this.newStream(name, entry.acked);
      // An ack committed with its effects after the entry was written (x: keys) supersedes a
      // parking the entry still records.
      s.parked = entry.parked !== undefined && entry.parked.version > entry.acked ? entry.parked : undefined;
      if (s.parked) this.parkedCount++;
      this.onDisk.add(name);
      s.known = Math.max(entry.acked, entry.known);
      s.knownPosition = entry.knownPosition;
      this.streams.set(name, s);
      if (!this.maybeRetire(s) && !s.parked) this.unassigned.add(name);
    }
  }

  private newStream(name: string, acked: number): StreamEntry {
    return new StreamEntry(name, acked);
  }

  /** Every matching event at or below this position has been seen by the group. */
  get watermark(): number {
    return this.watermarkValue;
  }

  /** Streams tracked (pending, in flight or parked). */
  get activeCount(): number {
    return this.streams.size;
  }

  /** True when the feeder may hand over more events. */
  get hasRoom(): boolean {
    return this.streams.size < this.tuning.maxActiveStreams;
  }

  /** Live members' ids. */
  memberIds(): string[] {
    return [...this.members.keys()];
  }

  /** The streams leased to a member. */
  leasesOf(member: string): string[] {
    return [...(this.members.get(member)?.leases ?? [])];
  }

  /** Lease holder and in-flight delivery of a stream, for tests and status. */
  inspect(stream: string): { acked: number; known: number; lease?: { member: string; epoch: number }; inflight?: { member: string; epoch: number; version: number; count: number }; parked?: GroupParkedStream; attempts: number } | undefined {
    const s = this.streams.get(stream);
    if (s === undefined) return undefined;
    return { acked: s.acked, known: s.known, lease: s.lease, inflight: s.inflight, parked: s.parked, attempts: s.attempts };
  }

  /** Deliveries in flight per member. */
  inflightOf(member: string): number {
    return this.members.get(member)?.inflight ?? 0;
  }

  // ---- the feeder --------------------------------------------------------------------------

  /**
   * An event of a matching stream, in global order (positions above the watermark only).
   * Call only while {@link hasRoom} (or for a stream already tracked).
   */
  onEvent(e: RecordedEvent): void {
    if (e.position <= this.watermarkValue) return;
    this.watermarkValue = e.position;
    let s = this.streams.get(e.stream);
    if (s === undefined) {
      // Not tracked: everything of it at or below the old watermark is acknowledged.
      s = this.newStream(e.stream, e.version - 1);
      this.streams.set(e.stream, s);
      this.dirty.add(e.stream);
      this.unassigned.add(e.stream);
    }
    if (e.version <= s.known) {
      // Acked before a restart past the old watermark (an ack committed with its effects).
      this.maybeRetire(s);
      return;
    }
    s.known = e.version;
    s.knownPosition = e.position;
    const last = s.last()?.version ?? s.acked;
    // A lane buffers from acked+1, contiguous; anything else waits in the log until read back.
    if (s.parked || e.version !== last + 1) s.spill(e);
    else s.offer(e, this.tuning.prefetch);
    if (!s.parked) this.markReady(s);
  }

  /** Moves the watermark over positions with no matching event (the feeder is caught up to here). */
  advanceWatermark(position: number): void {
    if (position > this.watermarkValue) this.watermarkValue = position;
  }

  /** The reads to do now (each stream at most once at a time). */
  takeReads(): ReadRequest[] {
    const out: ReadRequest[] = [];
    for (const name of this.readQueue) {
      const s = this.streams.get(name);
      if (s === undefined || s.reading || s.parked || s.size > 0 || s.known <= s.acked) continue;
      // Pending events not buffered are in the log: from acked+1 up to the last one the feeder passed.
      if (s.overflow === undefined || s.overflow.nextVersion !== s.acked + 1) s.overflow = { nextVersion: s.acked + 1, nextPosition: s.overflow?.nextPosition ?? 0, lastSeen: Math.max(s.knownPosition, s.overflow?.lastSeen ?? 0) };
      const r = s.readRequest(this.tuning.prefetch);
      if (r !== undefined) out.push({ stream: name, from: r.from, limit: r.limit, to: r.to });
    }
    this.readQueue.clear();
    return out;
  }

  /** The result of a read (events at or below the request's `to`, in stream order). */
  onRead(stream: string, events: readonly RecordedEvent[], failed = false): void {
    const s = this.streams.get(stream);
    if (s === undefined || !s.reading) return;
    if (failed) {
      s.readFailed();
      this.readQueue.add(stream);
      return;
    }
    if (s.parked || s.size > 0) {
      s.readFailed();
      return;
    }
    s.absorb(events, undefined, true);
    const first = s.first();
    if (first !== undefined && first.version > s.acked + 1) {
      // A gap only truncation leaves: what was removed counts as done.
      s.acked = first.version - 1;
      this.dirty.add(stream);
    }
    if (s.size === 0 && s.overflow === undefined) {
      // Nothing left to read (deleted or truncated away): done.
      s.acked = Math.max(s.acked, s.known);
      this.dirty.add(stream);
      this.maybeRetire(s);
      return;
    }
    this.markReady(s);
  }

  // ---- members -------------------------------------------------------------------------------

  /** Adds a member with a credit window (deliveries in flight at most). */
  join(member: string, credits: number, now: number): void {
    if (this.members.has(member)) throw new TypeError(`member ${member} already joined`);
    this.members.set(member, { id: member, credits, inflight: 0, lastSeen: now, leaveBy: undefined, leases: new Set(), ready: [], readyHead: 0 });
    this.rebalanceDue = true;
  }

  /** Records a sign of life; throws `STRAND_GROUP_MEMBER_EXPIRED` for a member the group dropped. */
  heartbeat(member: string, now: number): void {
    this.member(member).lastSeen = now;
  }

  /** Changes a member's credit window. */
  setCredits(member: string, credits: number, now: number): void {
    const m = this.member(member);
    m.credits = credits;
    m.lastSeen = now;
  }

  private member(id: string): MemberEntry {
    const m = this.members.get(id);
    if (m === undefined) throw new MemberExpiredError(this.group, id);
    return m;
  }

  /**
   * A member leaves: it gets nothing new, its idle leases move at once, and the rest move as its
   * deliveries are acked or nacked, or after the session timeout, whichever comes first.
   */
  leave(member: string, now: number): void {
    const m = this.members.get(member);
    if (m === undefined) return;
    m.leaveBy = now + this.tuning.sessionTimeoutMs;
    for (const name of [...m.leases]) {
      const s = this.streams.get(name)!;
      if (s.inflight === undefined && !s.committing) this.release(s);
      else s.revoke = true;
    }
    this.finishLeaving(m);
  }

  private finishLeaving(m: MemberEntry): void {
    if (m.leaveBy !== undefined && m.leases.size === 0 && m.inflight === 0) {
      this.members.delete(m.id);
      this.rebalanceDue = true;
    }
  }

  /** Drops a member at once (crash detected, connection closed): its deliveries are void. */
  expire(member: string, now: number): void {
    const m = this.members.get(member);
    if (m === undefined) return;
    this.members.delete(member);
    for (const name of [...m.leases]) {
      const s = this.streams.get(name)!;
      if (s.committing) {
        // An ack with effects is being written: the lease moves when it settles.
        s.revoke = true;
        continue;
      }
      if (s.inflight !== undefined) {
        // Lost with its member: counts as an attempt (a poison event that kills members parks).
        s.inflight = undefined;
        this.fail(s, 'delivery lost: member expired', now);
        if (s.lease === undefined) continue;
      }
      this.release(s);
    }
    m.leases.clear();
    this.rebalanceDue = true;
  }

  /** Expires silent members and members past their leave deadline; wakes due retries. */
  tick(now: number): void {
    for (const m of [...this.members.values()]) {
      if (now - m.lastSeen > this.tuning.sessionTimeoutMs || (m.leaveBy !== undefined && now >= m.leaveBy)) this.expire(m.id, now);
    }
    for (const name of [...this.retrying]) {
      const s = this.streams.get(name);
      if (s === undefined || s.parked) {
        this.retrying.delete(name);
        continue;
      }
      if (s.retryAt <= now) {
        this.retrying.delete(name);
        s.retryAt = 0;
        this.markReady(s);
      }
    }
    this.rebalanceDue = true;
  }

  /** The earliest time tick() has something to do (a retry or an expiry), if any. */
  nextDue(): number | undefined {
    let due: number | undefined;
    for (const name of this.retrying) {
      const at = this.streams.get(name)?.retryAt;
      if (at !== undefined && (due === undefined || at < due)) due = at;
    }
    for (const m of this.members.values()) {
      const at = Math.min(m.lastSeen + this.tuning.sessionTimeoutMs + 1, m.leaveBy ?? Number.POSITIVE_INFINITY);
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  // ---- acks ----------------------------------------------------------------------------------

  private check(member: string, ref: DeliveryRef): StreamEntry {
    const s = this.streams.get(ref.stream);
    if (s === undefined) throw new StaleLeaseError(this.group, ref.stream, ref.epoch, 'the stream has no delivery in flight');
    const f = s.inflight;
    if (s.lease === undefined || s.lease.member !== member || s.lease.epoch !== ref.epoch) throw new StaleLeaseError(this.group, ref.stream, ref.epoch, 'the lease moved');
    if (f === undefined || f.member !== member || f.epoch !== ref.epoch || f.version !== ref.version) throw new StaleLeaseError(this.group, ref.stream, ref.epoch, 'no such delivery in flight');
    if (s.committing) throw new StaleLeaseError(this.group, ref.stream, ref.epoch, 'an ack of it is already being committed');
    return s;
  }

  /** Acknowledges a delivery: its events are done. Throws `STRAND_GROUP_STALE_LEASE` if the lease moved. */
  ack(member: string, ref: DeliveryRef, now: number): void {
    const m = this.members.get(member);
    const s = this.check(member, ref);
    if (m) m.lastSeen = now;
    this.applyAck(s);
  }

  /**
   * Starts an ack whose effects are written in the same commit: checks the lease and pins it
   * (the lease cannot move) until {@link endCommit}.
   */
  beginCommit(member: string, ref: DeliveryRef, now: number): void {
    const s = this.check(member, ref);
    const m = this.members.get(member);
    if (m) m.lastSeen = now;
    s.committing = true;
  }

  /** Settles an ack started by {@link beginCommit}: applied if its commit succeeded. */
  endCommit(stream: string, ok: boolean, now: number): void {
    const s = this.streams.get(stream);
    if (s === undefined || !s.committing) return;
    s.committing = false;
    const holder = s.lease === undefined ? undefined : this.members.get(s.lease.member);
    if (ok) {
      this.applyAck(s);
      if (holder === undefined && s.lease !== undefined) this.release(s);
      return;
    }
    if (holder === undefined) {
      // Its member expired while the commit ran: the delivery is lost with it.
      s.inflight = undefined;
      this.fail(s, 'delivery lost: member expired', now);
      if (s.lease !== undefined) this.release(s);
    }
  }

  private applyAck(s: StreamEntry): void {
    const f = s.inflight!;
    s.inflight = undefined;
    s.acked = f.version + f.count - 1;
    s.drop(f.count);
    s.succeeded();
    this.dirty.add(s.name);
    this.releaseCredit(f.member);
    this.afterSettle(s);
  }

  /**
   * A delivery failed: retried after a backoff (doubling, or `delayMs`), in order, with nothing
   * later of the stream delivered before it; parked after `maxAttempts`.
   */
  nack(member: string, ref: DeliveryRef, error: string, now: number, delayMs?: number): void {
    const m = this.members.get(member);
    const s = this.check(member, ref);
    if (m) m.lastSeen = now;
    const f = s.inflight!;
    s.inflight = undefined;
    this.releaseCredit(f.member);
    this.fail(s, error, now, delayMs);
    if (s.lease !== undefined) this.afterSettle(s);
  }

  private fail(s: StreamEntry, error: string, now: number, delayMs?: number): void {
    if (s.failed(error, now, this.tuning, delayMs) === 'park') {
      this.park(s, now);
      return;
    }
    this.retrying.add(s.name);
  }

  private park(s: StreamEntry, now: number): void {
    const first = s.first();
    this.parkedCount++;
    s.parked = parkRecord(s.name, { version: s.acked + 1, position: first?.position ?? s.knownPosition }, s.lastError, s.attempts, now);
    // Its remaining events wait in the log (read back from acked+1 when it is retried or skipped).
    s.clear();
    s.retryAt = 0;
    this.retrying.delete(s.name);
    this.unassigned.delete(s.name);
    if (s.lease !== undefined) this.release(s);
    this.dirty.add(s.name);
  }

  private releaseCredit(member: string): void {
    const m = this.members.get(member);
    if (m === undefined) return;
    m.inflight--;
  }

  /** After an ack or nack: move a revoked lease, retire a finished stream, or deliver the next. */
  private afterSettle(s: StreamEntry): void {
    const holder = s.lease === undefined ? undefined : this.members.get(s.lease.member);
    if (s.revoke || (holder?.leaveBy !== undefined && s.lease !== undefined)) {
      this.release(s);
      if (holder) this.finishLeaving(holder);
    }
    if (this.maybeRetire(s)) return;
    this.markReady(s);
  }

  /** A stream with nothing pending leaves the active set (and the checkpoint). */
  private maybeRetire(s: StreamEntry): boolean {
    if (s.parked || s.inflight || s.committing || s.acked < s.known || s.knownPosition > this.watermarkValue) return false;
    if (s.lease !== undefined) {
      this.affinity.set(s.name, s.lease.member);
      if (this.affinity.size > 100_000) this.affinity.delete(this.affinity.keys().next().value as string);
      this.release(s);
    }
    this.streams.delete(s.name);
    this.unassigned.delete(s.name);
    this.retrying.delete(s.name);
    this.readQueue.delete(s.name);
    this.dirty.add(s.name);
    return true;
  }

  private release(s: StreamEntry): void {
    if (s.lease === undefined) return;
    const m = this.members.get(s.lease.member);
    m?.leases.delete(s.name);
    s.readyIn = undefined;
    s.lease = undefined;
    s.revoke = false;
    if (!s.parked && s.acked < s.known) {
      this.unassigned.add(s.name);
    }
  }

  private markReady(s: StreamEntry): void {
    if (s.parked || s.inflight || s.committing) return;
    if (s.lease === undefined) {
      if (s.acked < s.known) {
        this.unassigned.add(s.name);
      }
      return;
    }
    if (s.size === 0) {
      if (s.known > s.acked && !s.reading) this.readQueue.add(s.name);
      return;
    }
    const m = this.members.get(s.lease.member);
    if (m !== undefined && s.readyIn !== m) {
      s.readyIn = m;
      m.ready.push(s);
      // Entries of streams released since they were queued stay until passed; keep them few.
      if (m.ready.length - m.readyHead > 2 * m.leases.size + 64) {
        const kept = new Set<StreamEntry>();
        for (let i = m.readyHead; i < m.ready.length; i++) if (m.ready[i]!.readyIn === m) kept.add(m.ready[i]!);
        m.ready = [...kept];
        m.readyHead = 0;
      }
    }
  }

  // ---- parked streams ------------------------------------------------------------------------

  /** How many streams are parked. */
  get parkedTotal(): number {
    return this.parkedCount;
  }

  /** Parked streams. */
  parked(): GroupParkedStream[] {
    const out: GroupParkedStream[] = [];
    for (const s of this.streams.values()) if (s.parked) out.push(s.parked);
    return out;
  }

  /** Delivers a parked stream again from its failed event. False if it was not parked. */
  retry(stream: string): boolean {
    const s = this.streams.get(stream);
    if (s?.parked === undefined) return false;
    s.parked = undefined;
    this.parkedCount--;
    s.attempts = 0;
    this.dirty.add(stream);
    this.markReady(s);
    return true;
  }

  /** Skips the failed event of a parked stream and delivers the rest. False if it was not parked. */
  skip(stream: string): boolean {
    const s = this.streams.get(stream);
    if (s?.parked === undefined) return false;
    s.acked = Math.max(s.acked, s.parked.version);
    s.known = Math.max(s.known, s.acked);
    s.parked = undefined;
    this.parkedCount--;
    s.attempts = 0;
    this.dirty.add(stream);
    if (!this.maybeRetire(s)) this.markReady(s);
    return true;
  }

  // ---- assignment and delivery ---------------------------------------------------------------

  /**
   * Assigns unleased streams (sticky, least loaded), moves surplus leases of overloaded members
   * (only leases with nothing in flight move), and hands out deliveries within each member's
   * credit window. Docs: docs/design/0011, "Assignment".
   */
  pump(now: number): Addressed[] {
    if (this.rebalanceDue || this.unassigned.size > 0) {
      const rebalance = this.rebalanceDue;
      this.rebalanceDue = false;
      this.assign(rebalance);
    }
    const out: Addressed[] = [];
    for (const m of this.members.values()) {
      if (m.leaveBy !== undefined) continue;
      while (m.readyHead < m.ready.length && m.inflight < m.credits) {
        const s = m.ready[m.readyHead++]!;
        if (s.readyIn !== m) continue;
        s.readyIn = undefined;
        const name = s.name;
        if (this.streams.get(name) !== s || s.lease?.member !== m.id || s.parked || s.inflight || s.committing || s.revoke) continue;
        if (s.retryAt > now) {
          this.retrying.add(name);
          continue;
        }
        if (s.size === 0) {
          this.markReady(s);
          continue;
        }
        const events = s.peek(this.tuning.maxBatch);
        s.inflight = { member: m.id, epoch: s.lease.epoch, version: events[0]!.version, count: events.length };
        m.inflight++;
        out.push({ member: m.id, delivery: { stream: name, epoch: s.lease.epoch, events, attempt: s.attempts + 1 } });
      }
      if (m.readyHead === m.ready.length) {
        m.ready.length = 0;
        m.readyHead = 0;
      } else if (m.readyHead > 1024 && m.readyHead * 2 > m.ready.length) {
        m.ready.splice(0, m.readyHead);
        m.readyHead = 0;
      }
    }
    return out;
  }

  private live(): MemberEntry[] {
    const out: MemberEntry[] = [];
    for (const m of this.members.values()) if (m.leaveBy === undefined) out.push(m);
    return out;
  }

  private assign(rebalance: boolean): void {
    const live = this.live();
    if (live.length === 0) return;
    let leased = 0;
    for (const m of live) leased += m.leases.size;
    const target = Math.ceil((leased + this.unassigned.size) / live.length);
    // Surplus leases of members above the target move, idle ones only: nothing in flight moves.
    for (const m of rebalance ? live : []) {
      let surplus = m.leases.size - target;
      if (surplus <= 0) continue;
      for (const name of [...m.leases]) {
        if (surplus <= 0) break;
        const s = this.streams.get(name)!;
        if (s.revoke) {
          surplus--;
          continue;
        }
        // In flight: moves once its delivery is acked or nacked (never while in flight).
        if (s.inflight !== undefined || s.committing) s.revoke = true;
        else this.release(s);
        surplus--;
      }
    }
    for (const name of [...this.unassigned]) {
      const s = this.streams.get(name);
      this.unassigned.delete(name);
      if (s === undefined || s.parked || s.lease !== undefined || s.acked >= s.known) continue;
      const sticky = this.members.get(this.affinity.get(name) ?? '');
      let chosen = sticky !== undefined && sticky.leaveBy === undefined && sticky.leases.size < target ? sticky : undefined;
      if (chosen === undefined) {
        // Least leased, then least busy; ties rotate so short-lived streams spread too.
        const start = this.rotation++ % live.length;
        for (let i = 0; i < live.length; i++) {
          const m = live[(start + i) % live.length]!;
          if (chosen === undefined || m.leases.size < chosen.leases.size || (m.leases.size === chosen.leases.size && m.inflight / m.credits < chosen.inflight / chosen.credits)) chosen = m;
        }
      }
      const m = chosen!;
      this.epochCounter++;
      s.lease = { member: m.id, epoch: this.epochCounter };
      s.revoke = false;
      m.leases.add(name);
      this.affinity.delete(name);
      this.markReady(s);
    }
  }

  // ---- the checkpoint ------------------------------------------------------------------------

  /** The writes that make the durable checkpoint match this state; pass it back to {@link planFailed} if they fail. */
  plan(): CheckpointPlan {
    const puts: Array<[string, CheckpointEntry]> = [];
    const dels: string[] = [];
    for (const name of this.dirty) {
      const s = this.streams.get(name);
      if (s === undefined) {
        // A stream that came and went between two writes never reaches the store.
        if (this.onDisk.delete(name)) dels.push(name);
      } else {
        puts.push([name, s.parked ? { acked: s.acked, parked: s.parked } : { acked: s.acked }]);
        this.onDisk.add(name);
      }
    }
    this.dirty.clear();
    return { watermark: this.watermarkValue, puts, dels };
  }

  /** A plan's writes failed: its streams are written again with the next plan. */
  planFailed(plan: CheckpointPlan): void {
    for (const [name] of plan.puts) this.dirty.add(name);
    for (const name of plan.dels) {
      this.dirty.add(name);
      this.onDisk.add(name);
    }
  }

  /** Something to write. */
  get dirtyCount(): number {
    return this.dirty.size;
  }
}
