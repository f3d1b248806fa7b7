/**
 * Given/when/then specs for deciders: pure, no log needed, any test runner.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { isStrandError } from '@strand/core';
import type { z } from 'zod';
import type { Aggregate, Message, SchemaMap } from '../define.js';

/** The outcome of `when`: assert on it with `thenEvents`, `thenFails` or `thenState`. */
export interface SpecOutcome<E extends SchemaMap, S> {
  /** Asserts the command decided exactly these events (after schema parsing). */
  thenEvents(expected: readonly Message<E>[]): void;
  /** Asserts the command was refused with this domain reason or Strand error code. */
  thenFails(reasonOrCode: string): void;
  /** Asserts on the state after the decided events were applied. */
  thenState(check: (state: S) => void): void;
}

/** A given/when/then spec for one aggregate. */
export interface Spec<C extends SchemaMap, E extends SchemaMap, S> {
  /** The history before the command. */
  given(events: readonly Message<E>[]): { when(command: Message<C>): SpecOutcome<E, S> };
}

/**
 * Starts a spec.
 *
 * @example
 * ```ts
 * scenario(Account).given([{ type: 'Opened', data: { owner: 'ada' } }])
 *   .when({ type: 'Withdraw', data: { amount: 5 } })
 *   .thenFails('INSUFFICIENT_FUNDS');
 * ```
 */
export function scenario<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(
  aggregate: Aggregate<C, E, S>,
  context: { id?: string; now?: number } = {},
): Spec<C, E, z.output<S>> {
  const ctx = { id: context.id ?? 'spec-1', now: context.now ?? 0 };
  return {
    given(history) {
      return {
        when(command) {
          const before = aggregate.fold(history.map((e) => aggregate.parseEvent(e.type, e.data)));
          let events: Message<E>[] | undefined;
          let failure: unknown;
          try {
            events = aggregate.decide(aggregate.parseCommand(command), before, ctx);
          } catch (error) {
            failure = error;
          }
          const describe = () => (failure === undefined ? `decided ${JSON.stringify(events)}` : `failed with ${String(failure)}`);
          return {
            thenEvents(expected) {
              if (failure !== undefined) throw failure;
              assert.deepEqual(events, expected.map((e) => aggregate.parseEvent(e.type, e.data)));
            },
            thenFails(reasonOrCode) {
              assert.ok(failure !== undefined, `expected ${command.type} to fail with ${reasonOrCode}, but it ${describe()}`);
              const reason = (failure as { reason?: unknown }).reason;
              assert.ok(reason === reasonOrCode || isStrandError(failure, reasonOrCode), `expected ${reasonOrCode}, but ${command.type} ${describe()}`);
            },
            thenState(check) {
              if (failure !== undefined) throw failure;
              check(aggregate.fold(events!, before));
            },
          };
        },
      };
    },
  };
}
