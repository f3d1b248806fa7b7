/**
 * The consumer group's assignment: which member holds which stream. Sticky and load-balanced:
 * members above the target load give up their surplus (idle leases at once, in-flight ones once
 * their delivery settles), and each unleased stream goes to the member it last had if that member
 * is below the target, else to the least-loaded member. Design: docs/design/0011-consumer-groups.md
 * ("Assignment: sticky and load-balanced").
 *
 * @module
 */
import type { MemberEntry, StreamEntry } from './entries.js';
import { RecentMap } from './recent.js';

/** Streams remembered with their last member after they went idle (the 50,000 to 100,000 most recent: {@link RecentMap}). */
const AFFINITY_LIMIT = 100_000;

/** What the assignment reads and changes of the group's state. */
export interface Leasing {
  /** Tracked streams. */
  readonly streams: ReadonlyMap<string, StreamEntry>;
  /** Members, live and leaving. */
  readonly members: ReadonlyMap<string, MemberEntry>;
  /** Streams with pending work and no lease. */
  readonly unassigned: Set<string>;
  /** Takes a stream's lease from its member (back to `unassigned` if it has pending work). */
  release(s: StreamEntry): void;
  /** Leases a stream to a member under a new epoch. */
  grant(s: StreamEntry, m: MemberEntry): void;
}

/** The assignment policy, with what it remembers between passes (affinity, rotation). */
export class Assignment {
  /** Last member of streams that went idle: a stream coming back prefers it (stickiness). */
  private readonly affinity = new RecentMap<string, string>(AFFINITY_LIMIT);
  private rotation = 0;

  /** @param group the state the assignment works on. */
  constructor(private readonly group: Leasing) {}

  /** A stream went idle while leased to `member`: when it comes back it prefers that member. */
  remember(stream: string, member: string): void {
    this.affinity.set(stream, member);
  }

  /**
   * One pass: with `rebalance`, members above `target = ceil((leased + unassigned) / live members)`
   * give up their surplus (only leases with nothing in flight move; in-flight ones are marked
   * `revoke`); then every unassigned stream with pending work is leased.
   */
  run(rebalance: boolean): void {
    const { streams, members, unassigned } = this.group;
    const live: MemberEntry[] = [];
    for (const m of members.values()) if (m.leaveBy === undefined) live.push(m);
    if (live.length === 0) return;
    let leased = 0;
    for (const m of live) leased += m.leases.size;
    const target = Math.ceil((leased + unassigned.size) / live.length);
    // Surplus leases of members above the target move, idle ones only: nothing in flight moves.
    for (const m of rebalance ? live : []) {
      let surplus = m.leases.size - target;
      if (surplus <= 0) continue;
      for (const name of [...m.leases]) {
        if (surplus <= 0) break;
        const s = streams.get(name)!;
        if (s.revoke) {
          surplus--;
          continue;
        }
        // In flight: moves once its delivery is acked or nacked (never while in flight).
        if (s.inflight !== undefined || s.committing) s.revoke = true;
        else this.group.release(s);
        surplus--;
      }
    }
    for (const name of [...unassigned]) {
      const s = streams.get(name);
      unassigned.delete(name);
      if (s === undefined || s.parked || s.lease !== undefined || s.acked >= s.known) continue;
      const sticky = members.get(this.affinity.get(name) ?? '');
      let chosen = sticky !== undefined && sticky.leaveBy === undefined && sticky.leases.size < target ? sticky : undefined;
      if (chosen === undefined) {
        // Least leased, then least busy; ties rotate so short-lived streams spread too.
        const start = this.rotation++ % live.length;
        for (let i = 0; i < live.length; i++) {
          const m = live[(start + i) % live.length]!;
          if (chosen === undefined || m.leases.size < chosen.leases.size || (m.leases.size === chosen.leases.size && m.inflight / m.credits < chosen.inflight / chosen.credits)) chosen = m;
        }
      }
      this.affinity.delete(name);
      this.group.grant(s, chosen!);
    }
  }
}
