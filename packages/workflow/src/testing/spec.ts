/**
 * Given/when/then specs for workflows: pure, no log needed, any test runner.
 *
 * @module
 */
import assert from 'node:assert/strict';
import type { SchemaMap } from '@strand/aggregate';
import { isStrandError } from '@strand/core';
import type { z } from 'zod';
import type { Workflow, WorkflowAction, WorkflowInput } from '../define.js';
import { freshInstance, type Refuse, type SimulatedInstance, simulateStep } from './step.js';

/** The outcome of `when`. */
export interface WorkflowOutcome<S> {
  /** Asserts the actions that took effect (after refusals were compensated), in order. */
  thenActions(expected: readonly WorkflowAction[]): void;
  /** Asserts on the instance after the input: state, pending deadlines, completion. */
  thenInstance(check: (instance: SimulatedInstance<S>) => void): void;
  /** Asserts the step failed with this Strand error code (a bug in decide, e.g. an undeclared deadline). */
  thenFails(code: string): void;
}

/** A given/when/then spec for one workflow. */
export interface WorkflowSpec<I extends SchemaMap, D extends SchemaMap, S> {
  /** Inputs before the one under test (applied with the same refusal rule). */
  given(inputs: readonly WorkflowInput<I, D>[]): {
    /** The input under test; `refuse` says which commands the aggregates refuse. */
    when(input: WorkflowInput<I, D>, refuse?: Refuse): WorkflowOutcome<S>;
  };
}

/**
 * Starts a spec.
 *
 * @example
 * ```ts
 * workflowScenario(Fulfilment, { instance: 'o-1', now: 0 })
 *   .given([placed])
 *   .when(paymentDue)
 *   .thenActions([send(Stock, 'sku-1', { type: 'Release', ... }), send(Order, 'o-1', { type: 'Cancel', ... }), complete()]);
 * ```
 */
export function workflowScenario<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType>(
  workflow: Workflow<I, D, S>,
  context: { instance?: string; now?: number } = {},
): WorkflowSpec<I, D, z.output<S>> {
  const ctx = { instance: context.instance ?? 'spec-1', now: context.now ?? 0 };
  return {
    given(history) {
      return {
        when(input, refuse) {
          const instance = freshInstance(workflow);
          for (const h of history) simulateStep(workflow, instance, h, ctx, refuse);
          let actions: WorkflowAction[] | undefined;
          let failure: unknown;
          try {
            actions = simulateStep(workflow, instance, input, ctx, refuse).actions;
          } catch (error) {
            failure = error;
          }
          return {
            thenActions(expected) {
              if (failure !== undefined) throw failure;
              assert.deepEqual(actions, expected);
            },
            thenInstance(check) {
              if (failure !== undefined) throw failure;
              check(instance);
            },
            thenFails(code) {
              assert.ok(failure !== undefined, `expected ${input.type} to fail with ${code}, but it decided ${JSON.stringify(actions)}`);
              assert.ok(isStrandError(failure, code), `expected ${code}, got ${String(failure)}`);
            },
          };
        },
      };
    },
  };
}
