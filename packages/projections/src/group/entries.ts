/**
 * What the consumer group's state machine (`state.ts`) tracks: a stream with pending work (its
 * {@link Lane} plus its lease and in-flight delivery) and a member (its credit window, leases and
 * the queue of its streams that may be deliverable). Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import type { RecordedEvent } from '@strand/core';
import { Lane } from '../lanes.js';
import type { DeliveryRef, GroupParkedStream, ReadRequest } from './delivery.js';

/** The delivery of a stream that is in flight. */
export interface InFlight {
  /** The member it went to. */
  member: string;
  /** Its lease epoch. */
  epoch: number;
  /** Version of its first event. */
  version: number;
  /** Its number of events. */
  count: number;
}

/**
 * A tracked stream: its {@link Lane} (shared with `ProjectionRunner`: events buffered from
 * acked+1, contiguous, the in-flight ones first, the rest left in the log and read back; attempts
 * and backoff) plus its lease.
 */
export class StreamEntry extends Lane<RecordedEvent> {
  /** Version of the last event of the stream the group has seen. */
  known: number;
  /** Its position. */
  knownPosition = 0;
  /** The member holding the stream, and the epoch it was granted with. */
  lease: { member: string; epoch: number } | undefined;
  /** The delivery in flight, if any (at most one per stream). */
  inflight: InFlight | undefined;
  /** An ack with effects is being committed: the lease cannot move until it settles. */
  committing = false;
  /** Move the lease once nothing is in flight. */
  revoke = false;
  /** Set while the stream is parked. */
  parked: GroupParkedStream | undefined;
  /** The member whose ready queue holds this stream (once: the flag stands for membership). */
  readyIn: MemberEntry | undefined;

  /**
   * @param name the stream.
   * @param acked its last acknowledged version.
   */
  constructor(
    readonly name: string,
    public acked: number,
  ) {
    super(name);
    this.known = acked;
  }

  /**
   * An event of the stream the group's follower passed (in order). False if it was acknowledged
   * already (an ack committed with its effects before a restart past the old watermark).
   */
  seen(e: RecordedEvent, prefetch: number): boolean {
    if (e.version <= this.known) return false;
    this.known = e.version;
    this.knownPosition = e.position;
    const last = this.last()?.version ?? this.acked;
    // A lane buffers from acked+1, contiguous; anything else waits in the log until read back.
    if (this.parked || e.version !== last + 1) this.spill(e);
    else this.offer(e, prefetch);
    return true;
  }

  /** The read that brings the stream's next pending events back from the log, if one is due now. */
  nextRead(prefetch: number): ReadRequest | undefined {
    if (this.reading || this.parked || this.size > 0 || this.known <= this.acked) return undefined;
    // Pending events not buffered are in the log: from acked+1 up to the last one the feeder passed.
    if (this.overflow === undefined || this.overflow.nextVersion !== this.acked + 1) this.overflow = { nextVersion: this.acked + 1, nextPosition: this.overflow?.nextPosition ?? 0, lastSeen: Math.max(this.knownPosition, this.overflow?.lastSeen ?? 0) };
    const r = this.readRequest(prefetch);
    return r === undefined ? undefined : { stream: this.name, from: r.from, limit: r.limit, to: r.to };
  }

  /**
   * Takes the events a read brought back. `advanced`: `acked` moved (over a gap only truncation
   * leaves, or to the end); `done`: nothing is left to read (deleted or truncated away).
   */
  readBack(events: readonly RecordedEvent[]): { advanced: boolean; done: boolean } {
    let advanced = false;
    this.absorb(events, undefined, true);
    const first = this.first();
    if (first !== undefined && first.version > this.acked + 1) {
      // A gap only truncation leaves: what was removed counts as done.
      this.acked = first.version - 1;
      advanced = true;
    }
    if (this.size === 0 && this.overflow === undefined) {
      // Nothing left to read (deleted or truncated away): done.
      this.acked = Math.max(this.acked, this.known);
      return { advanced: true, done: true };
    }
    return { advanced, done: false };
  }

  /** Why an ack or nack of `ref` from `member` is refused (stale), or undefined if it is the delivery in flight. */
  staleReason(member: string, ref: DeliveryRef): string | undefined {
    const f = this.inflight;
    if (this.lease === undefined || this.lease.member !== member || this.lease.epoch !== ref.epoch) return 'the lease moved';
    if (f === undefined || f.member !== member || f.epoch !== ref.epoch || f.version !== ref.version) return 'no such delivery in flight';
    if (this.committing) return 'an ack of it is already being committed';
    return undefined;
  }
}

/** A member of the group. */
export class MemberEntry {
  /** Deliveries in flight. */
  inflight = 0;
  /** Set by leave(): expires at this time even if it keeps heartbeating. */
  leaveBy: number | undefined;
  /** The streams leased to it. */
  readonly leases = new Set<string>();
  /**
   * Leased streams that may be deliverable, oldest first from `readyHead`. A queue, not a set:
   * pump takes from the front on every pass, and a set's iteration would walk past every entry
   * deleted since its last rehash (thousands with many leases). An entry counts only while its
   * stream's `readyIn` is this member; others are skipped.
   */
  private ready: StreamEntry[] = [];
  private readyHead = 0;

  /**
   * @param id the member's id.
   * @param credits its credit window (deliveries in flight at most).
   * @param lastSeen when it was last heard from.
   */
  constructor(
    readonly id: string,
    public credits: number,
    public lastSeen: number,
  ) {}

  /** Queues a leased stream that may be deliverable (once: a stream already queued here stays where it is). */
  enqueue(s: StreamEntry): void {
    if (s.readyIn === this) return;
    s.readyIn = this;
    this.ready.push(s);
    // Entries of streams released since they were queued stay until passed; keep them few.
    if (this.ready.length - this.readyHead > 2 * this.leases.size + 64) {
      const kept = new Set<StreamEntry>();
      for (let i = this.readyHead; i < this.ready.length; i++) if (this.ready[i]!.readyIn === this) kept.add(this.ready[i]!);
      this.ready = [...kept];
      this.readyHead = 0;
    }
  }

  /** Takes the oldest stream still queued here off the queue, or undefined if none is left. */
  next(): StreamEntry | undefined {
    while (this.readyHead < this.ready.length) {
      const s = this.ready[this.readyHead++]!;
      if (s.readyIn !== this) continue;
      s.readyIn = undefined;
      return s;
    }
    return undefined;
  }

  /** After a pass of taking from the queue: drops the entries passed. */
  compact(): void {
    if (this.readyHead === this.ready.length) {
      this.ready.length = 0;
      this.readyHead = 0;
    } else if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
  }
}
