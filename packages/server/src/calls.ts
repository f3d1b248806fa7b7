/**
 * The plumbing every unary handler shares: authenticate the bearer key, count the call against
 * its tenant and connection, bound it by the request deadline, and map any error to a Connect
 * error carrying its Strand code. Design: docs/design/0013-server.md.
 *
 * @module
 */
import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import { TimeoutError } from '@strand/core';
import { toConnectError } from '@strand/protocol';
import { type Authenticator, bearer, type Scope } from './auth.js';
import type { ConnectionId, Connections } from './connections.js';
import type { Limits } from './limits.js';

/** Per-call facts the HTTP layer hands to the handlers. */
export interface CallInfo {
  /** The client connection. */
  readonly connection: ConnectionId;
  /** Ends the call's transport stream. */
  readonly kill: () => void;
  /**
   * The request's `Authorization` header as the HTTP layer read it, so a call does not build
   * connect-es's `Headers` copy of every header to find it (absent: read `ctx.requestHeader`).
   */
  readonly authorization?: string | undefined;
}

/** Context key under which the HTTP layer puts the {@link CallInfo}. */
export const callInfoKey = createContextKey<CallInfo | undefined>(undefined, { description: 'strand call info' });

const NO_CONNECTION = {};

/** The {@link CallInfo} of a call (a stand-in when the HTTP layer gave none). */
export function callInfo(ctx: HandlerContext): CallInfo {
  return ctx.values.get(callInfoKey) ?? { connection: NO_CONNECTION, kill: () => {} };
}

/** The call's `Authorization` header: from the {@link CallInfo} when the HTTP layer put it there, else from `ctx.requestHeader`. */
export function authorizationOf(ctx: HandlerContext, info: CallInfo = callInfo(ctx)): string | null | undefined {
  return 'authorization' in info ? info.authorization : ctx.requestHeader.get('authorization');
}

/** The call's deadline in ms: the client's (`grpc-timeout`, `connect-timeout-ms`) if it sent one, capped at the server's `limit`. */
export function deadlineOf(ctx: HandlerContext, limit: number): number {
  const client = ctx.timeoutMs();
  return client === undefined ? limit : Math.min(client, limit);
}

/** Races `p` against the call's deadline: `STRAND_TIMEOUT` when it passes (the work itself may still finish). */
export function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  // One promise and one timer per call (not Promise.race over a second promise and a finally).
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError('the request to finish', ms)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** What the call plumbing needs from the server. */
export interface CallDeps {
  readonly auth: Authenticator;
  readonly connections: Connections;
  readonly limits: Limits;
}

/** A unary handler of a tenant's principal, given its {@link Scope}. */
export type ScopedHandler<I, O> = (req: I, scope: Scope, ctx: HandlerContext) => Promise<O>;

/** Makes `begin` (authenticate and count a call) and `unary` (wrap a scoped handler) for a service. */
export function callPlumbing(deps: CallDeps): {
  begin: (ctx: HandlerContext) => { scope: Scope; end: () => void };
  unary: <I, O>(fn: ScopedHandler<I, O>) => (req: I, ctx: HandlerContext) => Promise<O>;
} {
  const { auth, connections, limits } = deps;
  const begin = (ctx: HandlerContext): { scope: Scope; end: () => void } => {
    const info = callInfo(ctx);
    const scope = auth.authenticate(bearer(authorizationOf(ctx, info)));
    const end = connections.enter(scope.tenant, info.connection);
    return { scope, end };
  };
  function unary<I, O>(fn: ScopedHandler<I, O>): (req: I, ctx: HandlerContext) => Promise<O> {
    return async (req, ctx) => {
      let end: (() => void) | undefined;
      try {
        const call = begin(ctx);
        end = call.end;
        return await withDeadline(fn(req, call.scope, ctx), deadlineOf(ctx, limits.requestTimeoutMs));
      } catch (error) {
        throw toConnectError(error);
      } finally {
        end?.();
      }
    };
  }
  return { begin, unary };
}
