/**
 * `strand.v1.ProjectionService`: projections the server hosts (handed to `createServer` as
 * runners; their handlers are the application's code), with their status, lag and parked streams,
 * and retry, skip and blue/green rebuild. Reading needs `read`; changing needs `admin`. Hosted
 * projections also serve the `waitFor` of appends (read-your-writes across the network).
 * Design: docs/design/0013-server.md, "Hosted projections".
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { InvalidArgumentError } from '@strand/core';
import { type ProjectionParkedInfo, ProjectionNotFoundError, type ProjectionStatusInfo, projectionWire, toConnectError, toWireProjectionStatus } from '@strand/protocol';
import type { Scope } from './auth.js';
import { type CallDeps, callPlumbing } from './calls.js';

/** A parked stream as a hosted projection reports it. */
export type HostedParkedStream = ProjectionParkedInfo;

/** A hosted projection's status (what `ProjectionRunner.status()` answers). */
export type HostedProjectionStatus = ProjectionStatusInfo;

/**
 * A projection the server hosts: what it needs of a `ProjectionRunner` from
 * `@strand/projections` (pass the runners, started, to `createServer({ projections })`).
 */
export interface HostedProjection {
  readonly name: string;
  status(): Promise<HostedProjectionStatus>;
  retry(stream: string): Promise<boolean>;
  skip(stream: string): Promise<boolean>;
  rebuild(onProgress?: (p: { position: number; head: number }) => void): Promise<void>;
  waitFor(position: number, options?: { timeoutMs?: number; stream?: string }): Promise<void>;
}

/** The hosted projections: one list (a single log), or a list per tenant. */
export type HostedProjections = readonly HostedProjection[] | ((tenant: string) => readonly HostedProjection[] | undefined);

/** The hosted projections of a tenant (`default` for a single log). */
export function projectionsOf(hosted: HostedProjections | undefined, tenant: string): readonly HostedProjection[] {
  if (hosted === undefined) return [];
  return typeof hosted === 'function' ? (hosted(tenant) ?? []) : hosted;
}

/** The hosted projection `name` of a tenant; `STRAND_PROJECTION_NOT_FOUND` when there is none. */
export function findProjection(hosted: HostedProjections | undefined, tenant: string, name: string): HostedProjection {
  const p = projectionsOf(hosted, tenant).find((x) => x.name === name);
  if (p === undefined) throw new ProjectionNotFoundError(name);
  return p;
}

/**
 * Read-your-writes through hosted projections: waits until each named one has applied `position`
 * and, for each of `streams`, that stream (a parked stream fails the wait with the projection's
 * `STRAND_PROJECTION_PARKED` rather than passing it by).
 */
export async function waitForHosted(hosted: HostedProjections | undefined, tenant: string, names: readonly string[], position: number, timeoutMs: number, streams: readonly string[]): Promise<void> {
  const runners = names.map((n) => findProjection(hosted, tenant, n));
  await Promise.all(runners.flatMap((r) => (streams.length === 0 ? [r.waitFor(position, { timeoutMs })] : streams.map((stream) => r.waitFor(position, { timeoutMs, stream })))));
}

/** What the projection service needs from the server. */
export interface ProjectionDeps extends CallDeps {
  readonly hosted: HostedProjections | undefined;
}

/** Registers the hosted projections' handlers on a Connect router. */
export function registerProjectionService(router: ConnectRouter, deps: ProjectionDeps): void {
  const { begin, unary } = callPlumbing(deps);
  const find = (scope: Scope, name: string) => {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('A projection name is required.');
    return findProjection(deps.hosted, scope.tenant, name);
  };

  router.service(projectionWire.ProjectionService, {
    listProjections: unary(async (_req: projectionWire.ListProjectionsRequest, scope) => {
      scope.checkHolds('read');
      const statuses = await Promise.all(projectionsOf(deps.hosted, scope.tenant).map((p) => p.status()));
      return { projections: statuses.map(toWireProjectionStatus) };
    }),

    getProjection: unary(async (req: projectionWire.GetProjectionRequest, scope) => {
      scope.checkHolds('read');
      return { status: toWireProjectionStatus(await find(scope, req.name).status()) };
    }),

    retryProjectionParked: unary(async (req: projectionWire.RetryProjectionParkedRequest, scope) => {
      scope.checkHolds('admin');
      return { retried: await find(scope, req.name).retry(req.stream) };
    }),

    skipProjectionParked: unary(async (req: projectionWire.SkipProjectionParkedRequest, scope) => {
      scope.checkHolds('admin');
      return { skipped: await find(scope, req.name).skip(req.stream) };
    }),

    async *rebuildProjection(req: projectionWire.RebuildProjectionRequest, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof projectionWire.RebuildProjectionResponseSchema>> {
      let end: (() => void) | undefined;
      try {
        const call = begin(ctx);
        end = call.end;
        call.scope.checkHolds('admin');
        const p = find(call.scope, req.name);
        // Progress is coalesced to the latest value; the rebuild goes on if the caller leaves.
        let latest: { position: number; head: number } | undefined;
        let wake: (() => void) | undefined;
        let outcome: { error: unknown } | { done: true } | undefined;
        const poke = () => {
          const w = wake;
          wake = undefined;
          w?.();
        };
        p.rebuild((x) => {
          latest = x;
          poke();
        }).then(
          () => {
            outcome = { done: true };
            poke();
          },
          (error: unknown) => {
            outcome = { error };
            poke();
          },
        );
        for (;;) {
          if (latest === undefined && outcome === undefined) await new Promise<void>((resolve) => (wake = resolve));
          if (latest !== undefined) {
            const x = latest;
            latest = undefined;
            yield { position: BigInt(x.position), head: BigInt(x.head) };
          }
          if (outcome !== undefined) {
            if ('error' in outcome) throw outcome.error;
            const s = await p.status();
            yield { position: BigInt(s.position), head: BigInt(s.head), done: true, status: toWireProjectionStatus(s) };
            return;
          }
        }
      } catch (error) {
        throw toConnectError(error);
      } finally {
        end?.();
      }
    },
  });
}
