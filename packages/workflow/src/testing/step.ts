/**
 * The runner's step semantics without a log, for specs and properties: one input is decided and
 * folded; when a command is refused, nothing of that decision happens and `CommandRejected` is
 * decided next; deadlines are scheduled, moved and cancelled; `complete` ends the instance.
 * (`WorkflowRunner` does the same with real aggregates, in one atomic append.)
 *
 * @module
 */
import type { SchemaMap } from '@strand/aggregate';
import type { z } from 'zod';
import type { Rejection, SendAction, Workflow, WorkflowAction, WorkflowInput } from '../define.js';
import { InvalidWorkflowActionError } from '../errors.js';

/** A simulated instance. */
export interface SimulatedInstance<S> {
  /** The workflow's state. */
  state: S;
  /** Pending deadlines by name. */
  pending: Record<string, { at: number; data: unknown }>;
  /** Completed. */
  completed: boolean;
}

/** What one input did. */
export interface SimulatedStep<I extends SchemaMap, D extends SchemaMap> {
  /** Inputs decided, in order: the given one, then any `CommandRejected`. */
  readonly inputs: WorkflowInput<I, D>[];
  /** Actions that took effect (refused decisions contribute none). */
  readonly actions: WorkflowAction[];
  /** Commands sent (the `send` actions that took effect). */
  readonly sent: SendAction[];
}

/** Decides whether a command is refused: return the rejection, or undefined to accept it. */
export type Refuse = (send: SendAction) => Rejection | undefined;

/** A fresh instance. */
export function freshInstance<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType>(workflow: Workflow<I, D, S>): SimulatedInstance<z.output<S>> {
  return { state: workflow.definition.initialState(), pending: {}, completed: false };
}

/** Applies one input to an instance (mutating it) as the runner would. */
export function simulateStep<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType>(
  workflow: Workflow<I, D, S>,
  instance: SimulatedInstance<z.output<S>>,
  input: WorkflowInput<I, D>,
  context: { instance: string; now: number },
  refuse: Refuse = () => undefined,
): SimulatedStep<I, D> {
  const step: SimulatedStep<I, D> = { inputs: [], actions: [], sent: [] };
  if (instance.completed) return step;
  if (input.kind === 'deadline') delete instance.pending[input.type];
  const queue: WorkflowInput<I, D>[] = [input];
  for (let depth = 0; queue.length > 0 && !instance.completed; depth++) {
    if (depth >= 8) throw new InvalidWorkflowActionError(workflow.name, 'decide answered 8 refused commands in a row without giving up');
    const current = queue.shift()!;
    step.inputs.push(current);
    const actions = workflow.decide(current, instance.state, context);
    instance.state = workflow.definition.evolve(instance.state, current);
    const rejection = actions.flatMap((a) => (a.kind === 'send' ? [refuse(a)] : [])).find((r) => r !== undefined);
    if (rejection !== undefined) {
      queue.push({ kind: 'rejected', type: 'CommandRejected', data: rejection });
      continue;
    }
    for (const a of actions) {
      step.actions.push(a);
      if (a.kind === 'send') step.sent.push(a);
      else if (a.kind === 'schedule') instance.pending[a.deadline] = { at: a.at, data: a.data };
      else if (a.kind === 'cancel') delete instance.pending[a.deadline];
      else instance.completed = true;
    }
  }
  if (instance.completed) instance.pending = {};
  return step;
}
