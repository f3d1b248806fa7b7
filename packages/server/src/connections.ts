/**
 * Per-connection and per-tenant accounting: subscriptions per connection, connections per tenant,
 * and the calls in flight that a graceful shutdown waits for.
 *
 * @module
 */
import { LimitExceededError } from '@strand/protocol';
import type { Limits } from './limits.js';

/** Identifies a client connection (an HTTP/2 session or an HTTP/1.1 socket). */
export type ConnectionId = object;

/** Counts what is open where, and refuses what is over a limit. */
export class Connections {
  private readonly byTenant = new Map<string, Map<ConnectionId, number>>();
  private readonly streams = new Map<ConnectionId, number>();
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(private readonly limits: Limits) {}

  /** A call of `tenant` on `conn` begins; returns its end. Throws over `connectionsPerTenant`. */
  enter(tenant: string, conn: ConnectionId): () => void {
    let conns = this.byTenant.get(tenant);
    if (conns === undefined) this.byTenant.set(tenant, (conns = new Map()));
    const n = conns.get(conn);
    if (n === undefined && conns.size >= this.limits.connectionsPerTenant) throw new LimitExceededError('connectionsPerTenant', this.limits.connectionsPerTenant);
    conns.set(conn, (n ?? 0) + 1);
    this.inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (conns.get(conn) ?? 1) - 1;
      if (left <= 0) conns.delete(conn);
      else conns.set(conn, left);
      if (conns.size === 0) this.byTenant.delete(tenant);
      if (--this.inFlight === 0) for (const f of this.idle.splice(0)) f();
    };
  }

  /** A subscription opens on `conn`; returns its close. Throws over `streamsPerConnection`. */
  openStream(conn: ConnectionId): () => void {
    const n = this.streams.get(conn) ?? 0;
    if (n >= this.limits.streamsPerConnection) throw new LimitExceededError('streamsPerConnection', this.limits.streamsPerConnection);
    this.streams.set(conn, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.streams.get(conn) ?? 1) - 1;
      if (left <= 0) this.streams.delete(conn);
      else this.streams.set(conn, left);
    };
  }

  /** Calls (and subscriptions) in flight now. */
  get active(): number {
    return this.inFlight;
  }

  /** Resolves when no call is in flight. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
