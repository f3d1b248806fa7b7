/**
 * `strand.v1.EventStoreService`: every operation of the `EventStore` interface, authenticated,
 * access-checked, limited, and with errors mapped to Connect codes carrying their Strand code.
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { type EventInput, InvalidArgumentError, type RecordedEvent } from '@strand/core';
import {
  fromWireExpected,
  fromWireInput,
  LimitExceededError,
  toConnectError,
  toErrorDetail,
  toWireAppendResult,
  toWireEvent,
  toWireInfo,
  wire,
} from '@strand/protocol';
import type { Authenticator, Scope } from './auth.js';
import { callInfo, callPlumbing } from './calls.js';
import type { Connections } from './connections.js';
import type { Limits } from './limits.js';
import type { Subscriptions, SubscriptionContext } from './subscriptions.js';

/**
 * Read-your-writes: waits until named server-hosted projections (of `tenant`, `default` for a
 * single log) have applied a position, and the append's `streams` in particular.
 */
export type WaitForProjections = (names: readonly string[], position: number, timeoutMs: number, tenant: string, streams: readonly string[]) => Promise<void>;

/** What the service needs from the server. */
export interface ServiceDeps {
  readonly auth: Authenticator;
  readonly connections: Connections;
  readonly subscriptions: Subscriptions;
  readonly limits: Limits;
  readonly shutdown: AbortSignal;
  readonly waitFor: WaitForProjections | undefined;
}

function count(n: bigint | number, what: string): number {
  const v = Number(n);
  if (!Number.isSafeInteger(v)) throw new InvalidArgumentError(`${what} is out of range.`);
  return v;
}

function mayRead(scope: Scope, stream: string): boolean {
  try {
    scope.check('read', stream);
    return true;
  } catch {
    return false;
  }
}

/** Registers the service's handlers on a Connect router. */
export function registerEventStoreService(router: ConnectRouter, deps: ServiceDeps): void {
  const { connections, limits } = deps;

  const { begin, unary } = callPlumbing(deps);

  const inputs = (events: readonly wire.EventInput[]): EventInput[] => events.map(fromWireInput);

  const awaitProjections = async (scope: Scope, names: readonly string[], position: number, timeoutMs: number, streams: readonly string[]) => {
    if (names.length === 0) return;
    if (deps.waitFor === undefined) throw new InvalidArgumentError('This server hosts no projections to wait for.');
    await deps.waitFor(names, position, timeoutMs === 0 ? 5000 : timeoutMs, scope.tenant, streams);
  };

  router.service(wire.EventStoreService, {
    append: unary(async (req: wire.AppendRequest, scope): Promise<MessageInitShape<typeof wire.AppendResponseSchema>> => {
      if (req.events.length > limits.eventsPerAppend) throw new LimitExceededError('eventsPerAppend', limits.eventsPerAppend);
      const r = await scope.store.append(req.stream, inputs(req.events), { expectedVersion: fromWireExpected(req.expectedVersion), recreate: req.recreate });
      await awaitProjections(scope, req.waitFor, r.position, req.waitTimeoutMs, [req.stream]);
      return { result: toWireAppendResult(r) };
    }),

    appendBatch: unary(async (req: wire.AppendBatchRequest, scope): Promise<MessageInitShape<typeof wire.AppendBatchResponseSchema>> => {
      const total = req.appends.reduce((n, a) => n + a.events.length, 0);
      if (total > limits.eventsPerAppend) throw new LimitExceededError('eventsPerAppend', limits.eventsPerAppend);
      // Every append starts now, in the order given (the log orders appends to one stream as they
      // are called), so the batch shares one group commit as concurrent appends in process do.
      const outcomes = await Promise.allSettled(
        req.appends.map(async (a) => {
          const r = await scope.store.append(a.stream, inputs(a.events), { expectedVersion: fromWireExpected(a.expectedVersion), recreate: a.recreate });
          await awaitProjections(scope, a.waitFor, r.position, a.waitTimeoutMs, [a.stream]);
          return r;
        }),
      );
      return {
        outcomes: outcomes.map((o) =>
          o.status === 'fulfilled' ? { outcome: { case: 'result' as const, value: toWireAppendResult(o.value) } } : { outcome: { case: 'error' as const, value: toErrorDetail(o.reason) } },
        ),
      };
    }),

    appendMulti: unary(async (req: wire.AppendMultiRequest, scope): Promise<MessageInitShape<typeof wire.AppendMultiResponseSchema>> => {
      const total = req.parts.reduce((n, p) => n + p.events.length, 0);
      if (total > limits.eventsPerAppend) throw new LimitExceededError('eventsPerAppend', limits.eventsPerAppend);
      const r = await scope.store.appendMulti(
        req.parts.map((p) => ({ stream: p.stream, events: inputs(p.events), expectedVersion: fromWireExpected(p.expectedVersion), recreate: p.recreate })),
      );
      await awaitProjections(scope, req.waitFor, r.position, req.waitTimeoutMs, [...new Set(req.parts.map((p) => p.stream))]);
      return { results: r.results.map(toWireAppendResult), position: BigInt(r.position) };
    }),

    readStream: unary(async (req: wire.ReadStreamRequest, scope): Promise<MessageInitShape<typeof wire.ReadStreamResponseSchema>> => {
      const page = Math.min(limits.pageEvents, req.limit === 0 ? limits.pageEvents : req.limit);
      const from = count(req.from, 'from');
      const events: RecordedEvent[] = [];
      // One more than the page tells whether another page follows.
      for await (const e of scope.store.readStream(req.stream, {
        ...(from === 0 ? {} : { from }),
        direction: req.backwards ? 'backwards' : 'forwards',
        limit: page + 1,
        ifTruncated: req.skipTruncated ? 'skip' : 'error',
      })) {
        events.push(e);
      }
      const more = events.length > page;
      if (more) events.length = page;
      const last = events[events.length - 1];
      const nextFrom = last === undefined ? 0 : req.backwards ? last.version - 1 : last.version + 1;
      return { events: events.map(toWireEvent), nextFrom: BigInt(Math.max(0, nextFrom)), done: !more || nextFrom < 1 };
    }),

    readAll: unary(async (req: wire.ReadAllRequest, scope): Promise<MessageInitShape<typeof wire.ReadAllResponseSchema>> => {
      const page = Math.min(limits.pageEvents, req.limit === 0 ? limits.pageEvents : req.limit);
      const from = Math.max(1, count(req.from, 'from'));
      const to = req.to === 0n ? (await scope.log()).position : count(req.to, 'to');
      const events: RecordedEvent[] = [];
      for await (const e of scope.store.readAll({ from, to, limit: page + 1, ...(req.pattern === '' ? {} : { pattern: req.pattern }) })) events.push(e);
      const more = events.length > page;
      if (more) events.length = page;
      const last = events[events.length - 1];
      return { events: events.map(toWireEvent), nextFrom: BigInt(last === undefined ? from : last.position + 1), to: BigInt(to), done: !more };
    }),

    async *subscribe(req: wire.SubscribeRequest, ctx: HandlerContext) {
      let end: (() => void) | undefined;
      let closeStream: (() => void) | undefined;
      try {
        const call = begin(ctx);
        end = call.end;
        const info = callInfo(ctx);
        closeStream = connections.openStream(info.connection);
        // application/connect+proto, application/grpc(+proto), application/grpc-web(+proto): binary.
        const binary = !/json/i.test(ctx.requestHeader.get('content-type') ?? '');
        const sc: SubscriptionContext = { limits, shutdown: deps.shutdown, kill: info.kill };
        yield* deps.subscriptions.messages(call.scope, req, ctx.signal, sc, binary);
      } catch (error) {
        throw toConnectError(error);
      } finally {
        closeStream?.();
        end?.();
      }
    },

    grantCredits: unary(async (req: wire.GrantCreditsRequest, scope) => {
      deps.subscriptions.grant(scope, req.subscriptionId, req.events);
      return {};
    }),

    listChildren: unary(async (req: wire.ListChildrenRequest, scope): Promise<MessageInitShape<typeof wire.ListChildrenResponseSchema>> => {
      scope.checkHolds('read');
      const log = await scope.log();
      const page = await log.listChildren(req.prefix, { ...(req.after === '' ? {} : { after: req.after }), ...(req.limit === 0 ? {} : { limit: req.limit }) });
      return {
        entries: page.entries.filter((e) => scope.mayBrowse(e.name)).map((e) => ({ name: e.name, segment: e.segment, isStream: e.isStream, hasChildren: e.hasChildren })),
        ...(page.next === undefined ? {} : { next: page.next }),
      };
    }),

    getStreamInfo: unary(async (req: wire.GetStreamInfoRequest, scope): Promise<MessageInitShape<typeof wire.GetStreamInfoResponseSchema>> => {
      const info = await scope.store.streamInfo(req.stream);
      return info === undefined ? {} : { info: toWireInfo(info) };
    }),

    deleteStream: unary(async (req: wire.DeleteStreamRequest, scope): Promise<MessageInitShape<typeof wire.DeleteStreamResponseSchema>> => {
      scope.check('admin', req.stream);
      const expected = fromWireExpected(req.expectedVersion);
      const info = await (await scope.log()).deleteStream(req.stream, expected === undefined ? {} : { expectedVersion: expected });
      return { info: toWireInfo(info) };
    }),

    truncateBefore: unary(async (req: wire.TruncateBeforeRequest, scope): Promise<MessageInitShape<typeof wire.TruncateBeforeResponseSchema>> => {
      scope.check('admin', req.stream);
      const r = await (await scope.log()).truncateBefore(req.stream, count(req.version, 'version'));
      return { truncatedBefore: BigInt(r.truncatedBefore), removed: BigInt(r.removed) };
    }),

    getPosition: unary(async (_req: wire.GetPositionRequest, scope): Promise<MessageInitShape<typeof wire.GetPositionResponseSchema>> => {
      scope.checkHolds('read', 'subscribe');
      return { position: BigInt((await scope.log()).position) };
    }),

    countStreams: unary(async (req: wire.CountStreamsRequest, scope): Promise<MessageInitShape<typeof wire.CountStreamsResponseSchema>> => {
      scope.checkHolds('read');
      let n = await scope.store.countStreams(req.prefix);
      // The prefix itself counted when it is a stream the principal may read.
      if (req.below && req.prefix !== '' && n > 0 && mayRead(scope, req.prefix) && (await scope.store.streamInfo(req.prefix)) !== undefined) n--;
      return { streams: BigInt(n) };
    }),

    waitForPosition: unary(async (req: wire.WaitForPositionRequest, scope) => {
      scope.checkHolds('read', 'subscribe');
      await (await scope.log()).waitForPosition(count(req.position, 'position'), req.timeoutMs === 0 ? 5000 : req.timeoutMs);
      return {};
    }),
  });
}
