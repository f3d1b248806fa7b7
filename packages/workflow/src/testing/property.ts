/**
 * The property harness for workflows: random input sequences (events from the input schemas,
 * deadlines that are actually pending, random refusals of the commands sent), checking after each
 * step the laws of a workflow and the invariants the user states.
 *
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import type { SchemaMap } from '@strand/aggregate';
import { arbitraryFromZod } from '@strand/aggregate/testing';
import fc from 'fast-check';
import type { z } from 'zod';
import type { SendAction, Workflow, WorkflowInput } from '../define.js';
import { freshInstance, type SimulatedInstance, type SimulatedStep, simulateStep } from './step.js';

/** One step of a generated run, as invariants see it. */
export interface TraceStep<I extends SchemaMap, D extends SchemaMap> extends SimulatedStep<I, D> {
  /** The instance after the step. */
  readonly after: { pending: Readonly<Record<string, { at: number }>>; completed: boolean };
}

/** Options of {@link checkWorkflow}. */
export interface CheckWorkflowOptions<I extends SchemaMap, D extends SchemaMap, S> {
  /** Event inputs to try (default: derived from the input schemas). */
  events?: fc.Arbitrary<{ type: keyof I & string; data: unknown }>;
  /** Invariants after every step: throw or return false to fail. `trace` holds every step so far. */
  invariants?: Array<(instance: SimulatedInstance<S>, trace: readonly TraceStep<I, D>[]) => boolean | void>;
  /** Invariants once the instance completes (e.g. "every reservation is committed or released"). */
  whenComplete?: Array<(instance: SimulatedInstance<S>, trace: readonly TraceStep<I, D>[]) => boolean | void>;
  /** How likely a sent command is refused (default 0.2). */
  refusalRate?: number;
  /** Longest input sequence (default 30). */
  maxInputs?: number;
  /** fast-check parameters (numRuns, seed, path to replay a failure). Default 100 runs. */
  parameters?: { numRuns?: number; seed?: number; path?: string; verbose?: boolean };
}

type Move = { kind: 'event'; type: string; data: unknown } | { kind: 'deadline'; pick: number } | { kind: 'advance'; ms: number };

/** Counts of what the runs did, for coverage assertions. */
export interface CheckWorkflowReport {
  /** Steps run. */
  steps: number;
  /** Refusals simulated. */
  refusals: number;
  /** Deadlines fired. */
  deadlines: number;
  /** Runs that completed the instance. */
  completed: number;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Runs random input sequences against a workflow and checks, after every step:
 * - the user's invariants (and `whenComplete` ones once it completes);
 * - `decide` and `evolve` are deterministic and do not mutate their inputs (inputs are frozen);
 * - the state validates against the state schema and survives a JSON round trip (snapshots);
 * - actions are valid (declared deadlines with valid data, known kinds).
 * Deadlines fire only when pending and due (the clock advances at random); refused commands are
 * fed back as `CommandRejected`, as the runner does. Fails with fast-check's report (seed, path,
 * shrunk sequence).
 */
export function checkWorkflow<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType>(
  workflow: Workflow<I, D, S>,
  options: CheckWorkflowOptions<I, D, z.output<S>> = {},
): CheckWorkflowReport {
  const def = workflow.definition;
  const events =
    options.events ??
    (fc.oneof(...Object.entries(def.inputs as SchemaMap).map(([type, schema]) => arbitraryFromZod(schema).map((data) => ({ type, data })))) as fc.Arbitrary<{ type: keyof I & string; data: unknown }>);
  const moves: fc.Arbitrary<Move> = fc.oneof(
    { weight: 2, arbitrary: events.map((e) => ({ kind: 'event' as const, type: e.type, data: e.data })) },
    { weight: 2, arbitrary: fc.nat(7).map((pick) => ({ kind: 'deadline' as const, pick })) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 3_600_000 }).map((ms) => ({ kind: 'advance' as const, ms })) },
  );
  const refusalRate = options.refusalRate ?? 0.2;
  const report: CheckWorkflowReport = { steps: 0, refusals: 0, deadlines: 0, completed: 0 };
  fc.assert(
    fc.property(fc.array(moves, { maxLength: options.maxInputs ?? 30 }), fc.infiniteStream(fc.noBias(fc.integer({ min: 0, max: 9_999 }))), (sequence, dice) => {
      const instance = freshInstance(workflow);
      const trace: TraceStep<I, D>[] = [];
      const rolls = dice[Symbol.iterator]();
      let now = 1_700_000_000_000;
      let position = 0;
      const refuse = (send: SendAction) => {
        if ((rolls.next().value as number) >= refusalRate * 10_000) return undefined;
        report.refusals++;
        return { aggregate: send.aggregate, id: send.id, command: send.command.type, reason: 'REFUSED_IN_TEST', message: 'refused by the property harness' };
      };
      for (const move of sequence) {
        if (instance.completed) break;
        let input: WorkflowInput<I, D> | undefined;
        if (move.kind === 'advance') {
          now += move.ms;
          continue;
        }
        if (move.kind === 'event') {
          position++;
          input = { kind: 'event', type: move.type, data: move.data, source: { stream: 'prop/1', version: position, position, id: `e-${position}` } } as WorkflowInput<I, D>;
        } else {
          const due = Object.entries(instance.pending).filter(([, p]) => p.at <= now);
          if (due.length === 0) continue;
          const [name, p] = due[move.pick % due.length]!;
          input = { kind: 'deadline', type: name, data: p.data, at: p.at } as WorkflowInput<I, D>;
          report.deadlines++;
        }
        deepFreeze(input);
        const before = structuredClone(instance);
        deepFreeze(instance.state);
        const ctx = { instance: 'prop-1', now };
        // Same input, same state, same refusals -> same decision and state (determinism).
        const replayRolls: boolean[] = [];
        const step = simulateStep(workflow, instance, input, ctx, (s) => {
          const r = refuse(s);
          replayRolls.push(r !== undefined);
          return r;
        });
        const again = structuredClone(before) as SimulatedInstance<z.output<S>>;
        let k = 0;
        const stepAgain = simulateStep(workflow, again, structuredClone(input), ctx, (s) =>
          replayRolls[k++] ? { aggregate: s.aggregate, id: s.id, command: s.command.type, reason: 'REFUSED_IN_TEST', message: 'refused by the property harness' } : undefined,
        );
        if (!isDeepStrictEqual(step.actions, stepAgain.actions) || !isDeepStrictEqual(instance.state, again.state)) {
          throw new Error(`decide/evolve are not deterministic for ${input.type}: ${JSON.stringify(step.actions)} vs ${JSON.stringify(stepAgain.actions)}`);
        }
        const parsed = def.state.safeParse(JSON.parse(JSON.stringify(instance.state)));
        if (!parsed.success) throw new Error(`state after ${input.type} does not survive a JSON round trip through the state schema: ${parsed.error.message}`);
        if (!isDeepStrictEqual(parsed.data, instance.state)) throw new Error(`state after ${input.type} changes in a JSON round trip: ${JSON.stringify(instance.state)}`);
        trace.push({ ...step, after: { pending: structuredClone(instance.pending), completed: instance.completed } });
        report.steps++;
        for (const invariant of options.invariants ?? []) {
          if (invariant(instance, trace) === false) throw new Error(`invariant ${invariant.name || '(anonymous)'} broken after ${input.type}: ${JSON.stringify(instance)}`);
        }
        if (instance.completed) {
          report.completed++;
          for (const invariant of options.whenComplete ?? []) {
            if (invariant(instance, trace) === false) throw new Error(`completion invariant ${invariant.name || '(anonymous)'} broken: ${JSON.stringify(trace.map((t) => t.actions))}`);
          }
        }
      }
    }),
    { numRuns: 100, includeErrorInReport: true, ...options.parameters },
  );
  return report;
}
