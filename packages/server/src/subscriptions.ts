/**
 * Subscriptions as server streams: catch-up from a position, then live (the log's `follow`, so no
 * gap and no duplicate at the switch), in batches, with credits, heartbeats and a bound on what a
 * subscriber can hold. Design: docs/design/0013-server.md, "Flow control".
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { InvalidArgumentError, type JsonTextEvent, type RecordedEvent } from '@strand/core';
import { AccessDeniedError } from '@strand/core/tenancy';
import { WireType } from '@bufbuild/protobuf/wire';
import { encodeEventDelimited, SubscriptionEndedError, toWireEvent, type wire } from '@strand/protocol';
import type { Scope } from './auth.js';
import type { Limits } from './limits.js';

type SubscribeResponse = MessageInitShape<typeof wire.SubscribeResponseSchema>;

/** Most events in one batch message. */
const MAX_BATCH = 512;

interface Entry {
  readonly tenant: string;
  readonly principal: string;
  readonly subscription: Subscription;
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
const encodedEvents = new WeakMap<JsonTextEvent | RecordedEvent, Uint8Array>();
/**
 * A live (frozen) event's bytes, made once for every binary subscriber on either path (connect-es
 * here, the lean path in `connect-subscribe.ts`); `undefined` for an event only one subscriber reads.
 */
export function sharedEventBytes(e: JsonTextEvent | RecordedEvent): Uint8Array | undefined {
  if (!Object.isFrozen(e)) return undefined;
  let w = encodedEvents.get(e);
  if (w === undefined) {
    w = encodeEventDelimited(e);
    encodedEvents.set(e, w);
  }
  return w;
}
function encodedEvent(e: JsonTextEvent): Uint8Array {
  return sharedEventBytes(e) ?? encodeEventDelimited(e);
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

/**
 * Where a subscription's messages go: the connect-es handler (any protocol) or the lean Connect
 * path (`connect-subscribe.ts`). Each call returns `undefined` when the transport took the message
 * and a promise when it is full, settling once it took it (or the call ended): the subscription
 * waits for it before pulling more from the log, and ends a subscriber blocked past
 * `subscriberStallMs`.
 */
export interface SubscriptionSink {
  /** The first message: the subscription's id (for GrantCredits), the head, the heartbeat interval. */
  started(subscriptionId: string, head: number, heartbeatMs: number): Promise<void> | undefined;
  /** Events in global order, at most as many as the subscriber has credits for. */
  events(batch: readonly JsonTextEvent[]): Promise<void> | undefined;
  /** Nothing else was sent for a heartbeat interval. */
  heartbeat(head: number, cursor: number): Promise<void> | undefined;
}

/** What a subscription needs from the server. */
export interface SubscriptionContext {
  readonly limits: Limits;
  /** Aborted once the server shuts down; only read (`aborted`), never listened to. */
  readonly shutdown: AbortSignal;
  /** Ends the call's transport stream (a subscriber whose connection stopped reading). */
  readonly kill: () => void;
}

/** What a subscriber asks for (`strand.v1.SubscribeRequest`). */
export interface SubscribeParams {
  readonly pattern: string;
  readonly from: bigint;
  readonly fromEnd: boolean;
  readonly credits: number;
  readonly heartbeatMs: number;
}

/**
 * One running subscription: its credits and how to stop it. Stopping (the client went away, the
 * server shuts down, the subscriber stalled) wakes whatever the subscription waits for; `done`
 * settles once it has let go of its follower: fulfilled when it ended quietly, rejected with the
 * error to send (`STRAND_SUBSCRIPTION_ENDED` with the resume cursor, a denied pattern...).
 */
export class Subscription {
  /** Credits left; `Infinity` when the subscriber uses none (transport flow control only). */
  credits: number;
  /** Settles when the subscription has ended. */
  done: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;

  /** @internal */
  constructor(credits: number) {
    this.credits = credits === 0 ? Number.POSITIVE_INFINITY : credits;
  }

  /** Aborted once stopped (the log's follower listens to it). */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** True once stopped. */
  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Ends the subscription (idempotent): the loop wakes and lets go of its follower. */
  readonly stop = (): void => {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.poke();
  };

  /** @internal */
  grant(n: number): void {
    this.credits += n;
    this.poke();
  }

  /** @internal Resolves after `ms`, or earlier on a grant or a stop. */
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.poke(), ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
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
    e.subscription.grant(events);
  }

  /**
   * Starts one subscription writing to `sink`: `started`, then event batches and heartbeats until
   * it is stopped or ends (the shared core of both transports; docs/design/0013-server.md,
   * "Idle subscriptions").
   */
  start(scope: Scope, req: SubscribeParams, sink: SubscriptionSink, sc: SubscriptionContext): Subscription {
    const sub = new Subscription(req.credits);
    sub.done = this.run(sub, scope, req, sink, sc);
    return sub;
  }

  /**
   * A subscription as the messages of a connect-es server stream (gRPC, gRPC-Web, Connect JSON,
   * compressed Connect): each `yield` returns once the transport asks for the next message.
   */
  async *messages(scope: Scope, req: SubscribeParams, signal: AbortSignal, sc: SubscriptionContext, binary: boolean): AsyncGenerator<SubscribeResponse> {
    let slot: SubscribeResponse | undefined;
    let taken: (() => void) | undefined;
    let ready: (() => void) | undefined;
    let ended = false;
    let failed = false;
    let failure: unknown;
    const put = (m: SubscribeResponse) => {
      slot = m;
      const r = ready;
      ready = undefined;
      r?.();
      return new Promise<void>((resolve) => {
        taken = resolve;
      });
    };
    const sink: SubscriptionSink = {
      started: (subscriptionId, head, heartbeatMs) => put({ message: { case: 'started', value: { subscriptionId, head: BigInt(head), heartbeatMs } } }),
      events: (batch) => put({ message: { case: 'events', value: eventBatch(batch, binary) } }),
      heartbeat: (head, cursor) => put({ message: { case: 'heartbeat', value: { head: BigInt(head), cursor: BigInt(cursor) } } }),
    };
    const sub = this.start(scope, req, sink, sc);
    const settle = () => {
      ended = true;
      const r = ready;
      ready = undefined;
      r?.();
    };
    sub.done.then(settle, (error: unknown) => {
      failed = true;
      failure = error;
      settle();
    });
    // The call's signal aborts when its stream closes, and at shutdown (endStreamsOnShutdown).
    signal.addEventListener('abort', sub.stop, { once: true });
    if (signal.aborted) sub.stop();
    try {
      for (;;) {
        if (slot === undefined && !ended) {
          await new Promise<void>((resolve) => {
            ready = resolve;
          });
        }
        if (slot !== undefined) {
          const m = slot;
          slot = undefined;
          yield m;
          const t = taken;
          taken = undefined;
          t?.();
          continue;
        }
        if (failed) throw failure;
        return;
      }
    } finally {
      signal.removeEventListener('abort', sub.stop);
      sub.stop();
      const t = taken;
      taken = undefined;
      t?.();
    }
  }

  private async run(sub: Subscription, scope: Scope, req: SubscribeParams, sink: SubscriptionSink, sc: SubscriptionContext): Promise<void> {
    const log = await scope.log();
    const head = log.position;
    const from = req.fromEnd ? head + 1 : Math.max(1, Number(req.from));
    if (sub.stopped) {
      if (sc.shutdown.aborted) throw new SubscriptionEndedError('shutdown', from);
      return;
    }
    // Validates the pattern and the principal's grants before anything is sent.
    const iterator = scope.store.followJson(req.pattern, { from, signal: sub.signal })[Symbol.asyncIterator]();
    const id = randomBytes(16).toString('base64url');
    this.open.set(id, { tenant: scope.tenant, principal: scope.principal, subscription: sub });
    const heartbeatMs = req.heartbeatMs === 0 ? sc.limits.heartbeatMs : Math.min(60_000, Math.max(100, req.heartbeatMs));
    const stallMs = sc.limits.subscriberStallMs;
    let cursor = from;
    let pending: Promise<IteratorResult<JsonTextEvent>> | undefined;
    // A connection that stops reading leaves a write waiting (the server writes only what the
    // transport takes): past the stall limit its stream is ended; the client resumes from its
    // cursor. One timer while a write waits, none otherwise.
    const written = async (w: Promise<void>) => {
      const timer = setTimeout(() => {
        sub.stop();
        sc.kill();
      }, stallMs);
      try {
        await w;
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      const s = sink.started(id, head, heartbeatMs);
      if (s !== undefined) await written(s);
      for (;;) {
        // Credits first: never pull an event the subscriber has no room for.
        let waited = 0;
        while (sub.credits <= 0 && !sub.stopped) {
          await sub.pause(Math.min(heartbeatMs, stallMs - waited));
          if (sub.credits > 0 || sub.stopped) break;
          waited += heartbeatMs;
          if (waited >= stallMs) throw new SubscriptionEndedError('slow-consumer', cursor);
          const w = sink.heartbeat(log.position, cursor);
          if (w !== undefined) await written(w);
        }
        if (sub.stopped) break;
        pending ??= iterator.next();
        const t = later(heartbeatMs);
        const first = await Promise.race([pending, t.p]);
        t.cancel();
        if (first === TIMEOUT) {
          if (sub.stopped) break;
          const w = sink.heartbeat(log.position, cursor);
          if (w !== undefined) await written(w);
          continue;
        }
        pending = undefined;
        if (first.done) break;
        const batch = [first.value];
        let ended = false;
        // What the iterator has at hand before the next turn of the event loop joins this batch
        // (one timer per batch, not one per event).
        const tick = turn();
        while (batch.length < MAX_BATCH && batch.length < sub.credits) {
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
        sub.credits -= batch.length;
        cursor = batch[batch.length - 1]!.position + 1;
        const w = sink.events(batch);
        if (w !== undefined) await written(w);
        if (ended) break;
      }
      if (sc.shutdown.aborted) throw new SubscriptionEndedError('shutdown', cursor);
    } finally {
      this.open.delete(id);
      sub.stop();
      void iterator.return?.(undefined)?.catch(() => undefined);
    }
  }
}
