/**
 * Subscriptions as server streams: catch-up from a position, then live (the log's `follow`, so no
 * gap and no duplicate at the switch), in batches, with credits, heartbeats and a bound on what a
 * subscriber can hold. Design: docs/design/0013-server.md, "Flow control".
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { InvalidArgumentError, type JsonTextEvent } from '@strand/core';
import { AccessDeniedError } from '@strand/core/tenancy';
import { WireType } from '@bufbuild/protobuf/wire';
import { encodeEventDelimited, SubscriptionEndedError, toWireEvent, type wire } from '@strand/protocol';
import type { Scope } from './auth.js';
import type { Limits } from './limits.js';

type SubscribeResponse = MessageInitShape<typeof wire.SubscribeResponseSchema>;

/** Most events in one batch message. */
const MAX_BATCH = 512;

/** Events a subscriber may still receive before it grants more. */
class Credits {
  private waiter: (() => void) | undefined;

  constructor(
    /** Credits left; `Infinity` when the subscriber uses none (transport flow control only). */
    public available: number,
  ) {}

  grant(n: number): void {
    this.available += n;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Resolves true once credits are available, false after `ms` without. */
  wait(ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.available > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        resolve(ok);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(this.available > 0), ms);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = () => done(true);
    });
  }
}

interface Entry {
  readonly tenant: string;
  readonly principal: string;
  readonly credits: Credits;
}

const TIMEOUT = Symbol('timeout');
const later = (ms: number) => {
  let timer: NodeJS.Timeout | undefined;
  const p = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  return { p, cancel: () => clearTimeout(timer) };
};
const NOT_YET = Symbol('not-yet');
// One turn of the event loop: lets an iterator that has events at hand produce them.
const turn = () => new Promise<typeof NOT_YET>((resolve) => setImmediate(() => resolve(NOT_YET)));

/**
 * Wire form of events, shared by every subscriber: a live event is one frozen object in the log's
 * ring that all followers receive, so with 100 subscribers it is encoded once rather than 100
 * times. Binary subscribers get each event's protobuf bytes (`encodeEventDelimited`) as the raw
 * elements of `EventBatch.events`; JSON subscribers (Connect JSON, curl) get messages.
 */
const encodedEvents = new WeakMap<JsonTextEvent, Uint8Array>();
function encodedEvent(e: JsonTextEvent): Uint8Array {
  let w = encodedEvents.get(e);
  if (w === undefined) {
    w = encodeEventDelimited(e);
    if (Object.isFrozen(e)) encodedEvents.set(e, w);
  }
  return w;
}
const wireEvents = new WeakMap<JsonTextEvent, ReturnType<typeof toWireEvent>>();
function wireEvent(e: JsonTextEvent): ReturnType<typeof toWireEvent> {
  let w = wireEvents.get(e);
  if (w === undefined) {
    w = toWireEvent(e);
    if (Object.isFrozen(e)) wireEvents.set(e, w);
  }
  return w;
}

/**
 * An `EventBatch` message. In binary, each event is an unknown field 1 whose bytes are the
 * encoded event: the writer copies them as they are, and they are exactly what the field
 * `repeated RecordedEvent events = 1` holds, so any protobuf reader sees the usual message.
 */
function eventBatch(events: readonly JsonTextEvent[], binary: boolean): wire.EventBatch {
  if (!binary) return { $typeName: 'strand.v1.EventBatch', events: events.map(wireEvent) };
  const $unknown = new Array<{ no: number; wireType: WireType; data: Uint8Array }>(events.length);
  for (let i = 0; i < events.length; i++) $unknown[i] = { no: 1, wireType: WireType.LengthDelimited, data: encodedEvent(events[i]!) };
  return { $typeName: 'strand.v1.EventBatch', events: [], $unknown };
}

/** What a subscription needs from the server. */
export interface SubscriptionContext {
  readonly limits: Limits;
  /** Aborted once the server shuts down (the call's own signal aborts then too). */
  readonly shutdown: AbortSignal;
  /** Ends the call's transport stream (a subscriber whose connection stopped reading). */
  readonly kill: () => void;
  /** The call speaks protobuf binary (not JSON): events go as their encoded bytes. */
  readonly binary: boolean;
}

/** The open subscriptions of a server, by id (for GrantCredits). */
export class Subscriptions {
  private readonly open = new Map<string, Entry>();

  /** Open subscriptions now. */
  get size(): number {
    return this.open.size;
  }

  /** Grants credits to one of the principal's subscriptions; an unknown or foreign id is denied alike. */
  grant(scope: Scope, id: string, events: number): void {
    const e = this.open.get(id);
    if (e === undefined || e.tenant !== scope.tenant || e.principal !== scope.principal) throw new AccessDeniedError();
    if (!Number.isSafeInteger(events) || events < 1) throw new InvalidArgumentError('GrantCredits needs events >= 1.');
    e.credits.grant(events);
  }

  /** Runs one subscription: `started`, then event batches and heartbeats until the client goes away. */
  async *run(
    scope: Scope,
    req: { pattern: string; from: bigint; fromEnd: boolean; credits: number; heartbeatMs: number },
    signal: AbortSignal,
    sc: SubscriptionContext,
  ): AsyncGenerator<SubscribeResponse> {
    const log = await scope.log();
    const head = log.position;
    const from = req.fromEnd ? head + 1 : Math.max(1, Number(req.from));
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    // The call's signal aborts at shutdown too (endStreamsOnShutdown).
    signal.addEventListener('abort', onAbort, { once: true });
    // Validates the pattern and the principal's grants before anything is sent.
    const iterator = scope.store.followJson(req.pattern, { from, signal: abort.signal })[Symbol.asyncIterator]();
    const id = randomBytes(16).toString('base64url');
    const credits = new Credits(req.credits === 0 ? Number.POSITIVE_INFINITY : req.credits);
    this.open.set(id, { tenant: scope.tenant, principal: scope.principal, credits });
    const heartbeatMs = req.heartbeatMs === 0 ? sc.limits.heartbeatMs : Math.min(60_000, Math.max(100, req.heartbeatMs));
    const stallMs = sc.limits.subscriberStallMs;
    let cursor = from;
    let pending: Promise<IteratorResult<JsonTextEvent>> | undefined;
    // A connection that stops reading blocks the `yield` (the server writes only what the
    // transport takes): past the stall limit its stream is ended; the client resumes from its cursor.
    let yieldedAt = 0;
    const watchdog = setInterval(() => {
      if (yieldedAt !== 0 && Date.now() - yieldedAt > stallMs) {
        abort.abort();
        sc.kill();
      }
    }, Math.max(50, Math.floor(stallMs / 4)));
    watchdog.unref();
    const send = (m: SubscribeResponse) => {
      yieldedAt = Date.now();
      return m;
    };
    try {
      yield send({ message: { case: 'started', value: { subscriptionId: id, head: BigInt(head), heartbeatMs } } });
      yieldedAt = 0;
      for (;;) {
        // Credits first: never pull an event the subscriber has no room for.
        let waited = 0;
        while (credits.available <= 0) {
          if (abort.signal.aborted) break;
          if (await credits.wait(Math.min(heartbeatMs, stallMs - waited), abort.signal)) break;
          if (abort.signal.aborted) break;
          waited += heartbeatMs;
          if (waited >= stallMs) throw new SubscriptionEndedError('slow-consumer', cursor);
          yield send({ message: { case: 'heartbeat', value: { head: BigInt(log.position), cursor: BigInt(cursor) } } });
          yieldedAt = 0;
        }
        if (abort.signal.aborted) break;
        pending ??= iterator.next();
        const t = later(heartbeatMs);
        const first = await Promise.race([pending, t.p]);
        t.cancel();
        if (first === TIMEOUT) {
          yield send({ message: { case: 'heartbeat', value: { head: BigInt(log.position), cursor: BigInt(cursor) } } });
          yieldedAt = 0;
          continue;
        }
        pending = undefined;
        if (first.done) break;
        const batch = [first.value];
        let ended = false;
        // What the iterator has at hand before the next turn of the event loop joins this batch
        // (one timer per batch, not one per event).
        const tick = turn();
        while (batch.length < MAX_BATCH && batch.length < credits.available) {
          pending = iterator.next();
          const more = await Promise.race([pending, tick]);
          if (more === NOT_YET) break;
          pending = undefined;
          if (more.done) {
            ended = true;
            break;
          }
          batch.push(more.value);
        }
        credits.available -= batch.length;
        cursor = batch[batch.length - 1]!.position + 1;
        yield send({ message: { case: 'events', value: eventBatch(batch, sc.binary) } });
        yieldedAt = 0;
        if (ended) break;
      }
      if (sc.shutdown.aborted) throw new SubscriptionEndedError('shutdown', cursor);
    } finally {
      clearInterval(watchdog);
      this.open.delete(id);
      signal.removeEventListener('abort', onAbort);
      abort.abort();
      void iterator.return?.(undefined)?.catch(() => undefined);
    }
  }
}
