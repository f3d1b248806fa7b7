/**
 * The consumer group's state machine: leases, deliveries, acks, retries, parking, heartbeats and
 * the checkpoint, with no I/O, no timers and no randomness of its own (time is passed in), so a
 * seeded simulation can drive it step by step. What it tracks per stream and per member is in
 * `entries.ts`, who holds which stream in `assignment.ts`, and what changed for the next checkpoint
 * write in `checkpoint.ts`. Design: docs/design/0011-consumer-groups.md.
 *
 * Over 500 lines on purpose: `GroupState` is one class because its transitions (feeder, members,
 * acks, parking, delivery) change the same maps together (a lease, its in-flight delivery, the
 * unassigned set and the ready queues), and the simulation checks their invariants after every
 * step; splitting the transitions would spread each invariant over modules.
 *
 * @module
 */
import type { RecordedEvent } from '@strand/core';
import { parkRecord } from '../lanes.js';
import { Assignment } from './assignment.js';
import { type CheckpointEntry, CheckpointChanges, type CheckpointPlan, type RestoredEntry } from './checkpoint.js';
import type { Addressed, DeliveryRef, GroupParkedStream, ReadRequest } from './delivery.js';
import { type InFlight, MemberEntry, StreamEntry } from './entries.js';
import { MemberExpiredError, StaleLeaseError } from './errors.js';
import type { GroupTuning } from './tuning.js';

/** The group state machine. Every method is synchronous and deterministic. */
export class GroupState {
  private readonly streams = new Map<string, StreamEntry>();
  private readonly members = new Map<string, MemberEntry>();
  private readonly unassigned = new Set<string>();
  private readonly retrying = new Set<string>();
  private readonly readQueue = new Set<string>();
  private readonly changes = new CheckpointChanges();
  private parkedCount = 0;
  private readonly assignment = new Assignment({
    streams: this.streams,
    members: this.members,
    unassigned: this.unassigned,
    release: (s) => this.release(s),
    grant: (s, m) => this.grant(s, m),
  });
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
      const s = new StreamEntry(name, entry.acked);
      // An ack committed with its effects after the entry was written (x: keys) supersedes a
      // parking the entry still records.
      s.parked = entry.parked !== undefined && entry.parked.version > entry.acked ? entry.parked : undefined;
      if (s.parked) this.parkedCount++;
      this.changes.restored(name);
      s.known = Math.max(entry.acked, entry.known);
      s.knownPosition = entry.knownPosition;
      this.streams.set(name, s);
      if (!this.maybeRetire(s) && !s.parked) this.unassigned.add(name);
    }
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
  inspect(stream: string): { acked: number; known: number; lease?: { member: string; epoch: number }; inflight?: InFlight; parked?: GroupParkedStream; attempts: number } | undefined {
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
      s = new StreamEntry(e.stream, e.version - 1);
      this.streams.set(e.stream, s);
      this.changes.changed(e.stream);
      this.unassigned.add(e.stream);
    }
    if (!s.seen(e, this.tuning.prefetch)) {
      // Acked before a restart past the old watermark (an ack committed with its effects).
      this.maybeRetire(s);
      return;
    }
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
      const r = this.streams.get(name)?.nextRead(this.tuning.prefetch);
      if (r !== undefined) out.push(r);
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
    const { advanced, done } = s.readBack(events);
    if (advanced) this.changes.changed(stream);
    if (done) {
      this.maybeRetire(s);
      return;
    }
    this.markReady(s);
  }

  // ---- members -------------------------------------------------------------------------------

  /** Adds a member with a credit window (deliveries in flight at most). */
  join(member: string, credits: number, now: number): void {
    if (this.members.has(member)) throw new TypeError(`member ${member} already joined`);
    this.members.set(member, new MemberEntry(member, credits, now));
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
    const stale = s === undefined ? 'the stream has no delivery in flight' : s.staleReason(member, ref);
    if (stale !== undefined) throw new StaleLeaseError(this.group, ref.stream, ref.epoch, stale);
    return s!;
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
    this.changes.changed(s.name);
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
    this.changes.changed(s.name);
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
      this.assignment.remember(s.name, s.lease.member);
      this.release(s);
    }
    this.streams.delete(s.name);
    this.unassigned.delete(s.name);
    this.retrying.delete(s.name);
    this.readQueue.delete(s.name);
    this.changes.changed(s.name);
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
    this.members.get(s.lease.member)?.enqueue(s);
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
    this.changes.changed(stream);
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
    this.changes.changed(stream);
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
      this.assignment.run(rebalance);
    }
    const out: Addressed[] = [];
    for (const m of this.members.values()) {
      if (m.leaveBy !== undefined) continue;
      while (m.inflight < m.credits) {
        const s = m.next();
        if (s === undefined) break;
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
      m.compact();
    }
    return out;
  }

  /** Leases a stream to a member under a new epoch (epochs never repeat, see the constructor). */
  private grant(s: StreamEntry, m: MemberEntry): void {
    this.epochCounter++;
    s.lease = { member: m.id, epoch: this.epochCounter };
    s.revoke = false;
    m.leases.add(s.name);
    this.markReady(s);
  }

  // ---- the checkpoint ------------------------------------------------------------------------

  /** The writes that make the durable checkpoint match this state; pass it back to {@link planFailed} if they fail. */
  plan(): CheckpointPlan {
    return this.changes.plan(this.watermarkValue, (name) => {
      const s = this.streams.get(name);
      if (s === undefined) return undefined;
      return s.parked ? { acked: s.acked, parked: s.parked } : ({ acked: s.acked } satisfies CheckpointEntry);
    });
  }

  /** A plan's writes failed: its streams are written again with the next plan. */
  planFailed(plan: CheckpointPlan): void {
    this.changes.failed(plan);
  }

  /** Something to write. */
  get dirtyCount(): number {
    return this.changes.count;
  }
}
