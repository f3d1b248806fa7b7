/**
 * Server limits: each has a default, and a call over one fails with a typed error
 * (`STRAND_LIMIT_EXCEEDED` naming it, or `STRAND_TIMEOUT` for the request deadline).
 *
 * @module
 */
import { InvalidArgumentError } from '@strand/core';

/** The limits a server enforces. */
export interface ServerLimits {
  /** Largest request body in bytes (Connect, gRPC and gRPC-Web alike). Default 4 MiB. */
  requestBytes?: number;
  /** Most events in one append (all parts of an appendMulti together). Default 10,000. */
  eventsPerAppend?: number;
  /** Most subscriptions open on one connection at once (an HTTP/2 connection multiplexes). Default 1,000. */
  streamsPerConnection?: number;
  /** Most connections a tenant may have calls or subscriptions open on at once. Default 1,000. */
  connectionsPerTenant?: number;
  /** Deadline of a unary call when the client sets none (or a longer one), ms. Default 30,000. */
  requestTimeoutMs?: number;
  /**
   * How long a subscriber may hold events back (no credits granted, or its connection not
   * reading) before the server ends the subscription with `STRAND_SUBSCRIPTION_ENDED` and the
   * position to resume from, ms. Default 30,000.
   */
  subscriberStallMs?: number;
  /** Heartbeat interval of subscriptions and the SSE tail, ms (clients may ask for 100..60,000). Default 15,000. */
  heartbeatMs?: number;
  /** Most events in one read page. Default 1,000. */
  pageEvents?: number;
}

/** The limits in force. */
export type Limits = Required<ServerLimits>;

const DEFAULTS: Limits = {
  requestBytes: 4 * 1024 * 1024,
  eventsPerAppend: 10_000,
  streamsPerConnection: 1_000,
  connectionsPerTenant: 1_000,
  requestTimeoutMs: 30_000,
  subscriberStallMs: 30_000,
  heartbeatMs: 15_000,
  pageEvents: 1_000,
};

/** Validates limits given by the operator and fills in the defaults. */
export function resolveLimits(given: ServerLimits | undefined): Limits {
  if (given !== undefined && (given === null || typeof given !== 'object')) throw new InvalidArgumentError('limits must be an object.');
  const out = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof Limits)[]) {
    const v = given?.[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`limits.${key} must be an integer >= 1; got ${String(v)}.`);
    out[key] = v;
  }
  return out;
}
