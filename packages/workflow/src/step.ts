/**
 * One step of a workflow instance, decided inside a unit of work: the input is checked against
 * the instance's per-instance checkpoint (a duplicate is skipped), `decide` runs, the commands it
 * sends are handled in the same unit (a refused one undoes the decision's commands and comes back
 * as a `CommandRejected` input), and the instance's records (inputs received, deadlines scheduled
 * or cancelled, completion) are appended with them. Design: docs/design/0012-workflows.md.
 *
 * @module
 */
import type { AggregateRepository, SchemaMap, UnitOfWorkTx } from '@strand/aggregate';
import { isStrandError } from '@strand/core';
import type { z } from 'zod';
import type { Rejection, Workflow, WorkflowInput } from './define.js';
import { InvalidWorkflowActionError } from './errors.js';
import type { InstanceRecord, InstanceState, storedInput } from './instance.js';

/** Any input of any workflow. */
export type AnyInput = WorkflowInput<SchemaMap, SchemaMap>;

/** A repository of some aggregate, as the runner holds them. */
type Repository = AggregateRepository<SchemaMap, SchemaMap, z.ZodType>;

/** What a step works with. */
export interface StepContext<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType> {
  workflow: Workflow<I, D, S>;
  /** The repository of the workflow's instance streams. */
  instances: Repository;
  /** The repositories commands are sent to, by aggregate name. */
  repositories: ReadonlyMap<string, Repository>;
}

/** What one attempt of a step did. */
export interface StepOutcome {
  /** False: the input was a duplicate, stale or not a start, and nothing is written. */
  committed: boolean;
  /** A deadline was scheduled (the runner re-arms its timer). */
  scheduled: boolean;
  /** Commands refused and fed back as `CommandRejected`. */
  rejections: number;
}

const SKIPPED: StepOutcome = { committed: false, scheduled: false, rejections: 0 };

/** Decides one input of `instance` in `tx` (the unit of work commits it; on a conflict it runs again). */
export async function decideStep<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType>(
  tx: UnitOfWorkTx,
  ctx: StepContext<I, D, S>,
  instance: string,
  input: AnyInput,
  correlationId: string | undefined,
): Promise<StepOutcome> {
  const wf = ctx.workflow;
  let scheduled = false;
  let rejections = 0;
  const loaded = await tx.load(ctx.instances, instance);
  const inst = loaded.state as InstanceState<z.output<S>>;
  if (inst.completed) return SKIPPED;
  if (input.kind === 'event') {
    if (input.source.position <= inst.lastPosition) return SKIPPED;
    if (loaded.version === 0 && !wf.startsWith(input.type)) return SKIPPED;
  } else if (input.kind === 'deadline') {
    const p = inst.pending[input.type];
    if (p === undefined || p.at !== input.at) return SKIPPED;
  }
  const correlation = { correlationId: inst.correlationId || (correlationId ?? instance) };
  const records: InstanceRecord[] = [];
  const pending = { ...inst.pending };
  if (input.kind === 'deadline') delete pending[input.type];
  let state = inst.state;
  const queue: AnyInput[] = [input];
  let completed = false;
  for (let depth = 0; queue.length > 0 && !completed; depth++) {
    if (depth >= 8) throw new InvalidWorkflowActionError(wf.name, 'decide answered 8 refused commands in a row without giving up');
    const current = queue.shift()!;
    records.push({ type: 'Received', data: { input: storable(current), ...(records.length === 0 && !inst.correlationId ? { correlationId: correlationId ?? instance } : {}) } });
    const actions = wf.decide(current as never, state, { instance, now: tx.now });
    state = wf.definition.evolve(state, current as never);
    const undo = tx.savepoint();
    let rejected: Rejection | undefined;
    for (const a of actions) {
      if (a.kind !== 'send') continue;
      const repository = ctx.repositories.get(a.aggregate);
      if (repository === undefined) throw new InvalidWorkflowActionError(wf.name, `it sends to ${a.aggregate}, but the runner has no repository for it`);
      try {
        await tx.handle(repository, a.id, a.command as never, { metadata: correlation });
      } catch (error) {
        if (!isStrandError(error, 'STRAND_DOMAIN_REJECTED')) throw error;
        rejected = { aggregate: a.aggregate, id: a.id, command: a.command.type, reason: String((error as { reason?: unknown }).reason), message: error.message };
        break;
      }
    }
    if (rejected !== undefined) {
      // All or nothing per decision: none of its commands or deadline changes happen.
      undo();
      rejections++;
      queue.push({ kind: 'rejected', type: 'CommandRejected', data: rejected });
      continue;
    }
    for (const a of actions) {
      if (a.kind === 'schedule') {
        const old = pending[a.deadline];
        if (old !== undefined) records.push({ type: 'DeadlineCancelled', data: { name: a.deadline, at: old.at } });
        pending[a.deadline] = { at: a.at, data: a.data };
        records.push({ type: 'DeadlineScheduled', data: { name: a.deadline, at: a.at, data: a.data } });
        scheduled = true;
      } else if (a.kind === 'cancel') {
        const old = pending[a.deadline];
        if (old !== undefined) records.push({ type: 'DeadlineCancelled', data: { name: a.deadline, at: old.at } });
        delete pending[a.deadline];
      } else if (a.kind === 'complete') completed = true;
    }
  }
  if (completed) {
    for (const [name, p] of Object.entries(pending)) records.push({ type: 'DeadlineCancelled', data: { name, at: p.at } });
    records.push({ type: 'Completed', data: {} });
  }
  await tx.handle(ctx.instances, instance, { type: 'Record', data: { records } } as never, { metadata: correlation });
  return { committed: true, scheduled, rejections };
}

/** An input as a `Received` record stores it. */
function storable(input: AnyInput): z.output<typeof storedInput> {
  return input.kind === 'event'
    ? { kind: 'event', type: input.type, data: input.data, source: input.source }
    : input.kind === 'deadline'
      ? { kind: 'deadline', type: input.type, data: input.data, at: input.at }
      : { kind: 'rejected', type: input.type, data: input.data };
}
