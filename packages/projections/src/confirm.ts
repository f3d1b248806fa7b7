/**
 * Read-your-writes across asynchronous projections: append, then resolve only once the named
 * projections have applied the append.
 *
 * @module
 */
import type { AppendOptions, AppendResult, EventInput, EventStore } from '@strand/core';
import { InvalidArgumentError, isStrandError } from '@strand/core';
import { ProjectionTimeoutError } from './errors.js';
import type { ProjectionRunner } from './runner.js';

/** Options of a confirmation. */
export interface ConfirmOptions {
  /** How long to wait for the projections (default 5,000 ms). */
  timeoutMs?: number;
}

async function waitAll(runners: readonly ProjectionRunner[], position: number, stream: string | undefined, timeoutMs: number): Promise<void> {
  const results = await Promise.allSettled(runners.map((r) => r.waitFor(position, { timeoutMs, stream })));
  const failed = results.map((r, i) => ({ r, runner: runners[i]! })).filter((x) => x.r.status === 'rejected');
  if (failed.length === 0) return;
  const timeouts = failed.filter((f) => isStrandError((f.r as PromiseRejectedResult).reason, 'STRAND_PROJECTION_TIMEOUT'));
  if (timeouts.length === failed.length) {
    throw new ProjectionTimeoutError(
      position,
      timeoutMs,
      timeouts.map((f) => ({ name: f.runner.name, position: f.runner.position, parked: f.runner.parked().length })),
    );
  }
  throw (failed.find((f) => !timeouts.includes(f))!.r as PromiseRejectedResult).reason;
}

/**
 * A hook for the aggregate command handler's `afterCommit`: the command resolves only once the
 * runners have applied its events.
 *
 * @example
 * ```ts
 * await accounts.handle(id, command, { afterCommit: confirmProjections([balancesRunner]) });
 * ```
 */
export function confirmProjections(runners: readonly ProjectionRunner[], options: ConfirmOptions = {}): (result: { position: number; stream?: string }) => Promise<void> {
  if (!Array.isArray(runners) || runners.length === 0) throw new InvalidArgumentError('confirmProjections needs at least one ProjectionRunner.');
  const timeoutMs = options.timeoutMs ?? 5000;
  return (result) => waitAll(runners, result.position, result.stream, timeoutMs);
}

/**
 * Appends, then waits until the runners have applied the append. The events are committed even
 * if the wait fails; the error (`STRAND_PROJECTION_TIMEOUT`, naming each late projection, or
 * `STRAND_PROJECTION_PARKED`) says which read model is behind.
 */
export async function appendAndConfirm(
  log: EventStore,
  runners: readonly ProjectionRunner[],
  stream: string,
  events: readonly EventInput[],
  options: AppendOptions & ConfirmOptions = {},
): Promise<AppendResult> {
  const { timeoutMs, ...appendOptions } = options;
  const result = await log.append(stream, events, appendOptions);
  await confirmProjections(runners, { timeoutMs })({ position: result.position, stream });
  return result;
}
