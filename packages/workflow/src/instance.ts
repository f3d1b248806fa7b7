/**
 * A workflow instance's stream, `workflows/<name>/<instance>`, as an aggregate: its records are
 * the inputs it received (with where each came from: the per-instance checkpoint), the deadlines
 * it scheduled or cancelled, and its completion. Folding them gives the workflow's state, its
 * pending deadlines and the last input position, so the instance stream is the single source of
 * truth for exactly-once processing (docs/design/0012-workflows.md). Being an aggregate, it gets
 * snapshots for long-lived instances and commits through the unit of work with the commands'
 * events.
 *
 * @module
 */
import { type Aggregate, defineAggregate, type SchemaMap } from '@strand/aggregate';
import { z } from 'zod';
import type { Workflow, WorkflowInput } from './define.js';

/** An input as stored in a `Received` record. */
export const storedInput = z.object({
  kind: z.enum(['event', 'deadline', 'rejected']),
  type: z.string(),
  data: z.unknown(),
  at: z.number().optional(),
  source: z.object({ stream: z.string(), version: z.number(), position: z.number(), id: z.string() }).optional(),
});

const records = {
  Received: z.object({ input: storedInput, correlationId: z.string().optional() }),
  DeadlineScheduled: z.object({ name: z.string(), at: z.number(), data: z.unknown() }),
  DeadlineCancelled: z.object({ name: z.string(), at: z.number() }),
  Completed: z.object({}),
};

/** A record of an instance stream. */
export type InstanceRecord = { [K in keyof typeof records]: { type: K; data: z.output<(typeof records)[K]> } }[keyof typeof records];

/** The folded instance stream. */
export interface InstanceState<S> {
  /** The workflow's own state. */
  state: S;
  /** Global position of the last event input applied: later deliveries at or below it are duplicates. */
  lastPosition: number;
  /** Deadlines scheduled and not yet fired or cancelled, by name. */
  pending: Record<string, { at: number; data?: unknown }>;
  /** Completed: later inputs are ignored. */
  completed: boolean;
  /** Correlation id of the instance (from its first input). */
  correlationId: string;
}

/** The aggregate that keeps one workflow's instance streams. */
export type InstanceAggregate<S extends z.ZodType> = Aggregate<{ Record: z.ZodType<{ records: InstanceRecord[] }> }, typeof records, z.ZodType<InstanceState<z.output<S>>>>;

/** Builds the instance aggregate of a workflow. */
export function instanceAggregate<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType>(workflow: Workflow<I, D, S>): InstanceAggregate<S> {
  const def = workflow.definition;
  const stateSchema = z.object({
    state: def.state,
    lastPosition: z.number().int().min(0),
    pending: z.record(z.string(), z.object({ at: z.number(), data: z.unknown() })),
    completed: z.boolean(),
    correlationId: z.string(),
  }) as unknown as z.ZodType<InstanceState<z.output<S>>>;
  const recordSchema = z.union(Object.entries(records).map(([type, data]) => z.object({ type: z.literal(type), data })) as never) as unknown as z.ZodType<InstanceRecord>;
  return defineAggregate({
    name: `wf-${workflow.name}`,
    stream: (instance) => workflow.streamOf(instance),
    commands: { Record: z.object({ records: z.array(recordSchema) }) as unknown as z.ZodType<{ records: InstanceRecord[] }> },
    events: records,
    state: stateSchema,
    initialState: () => ({ state: def.initialState(), lastPosition: 0, pending: {}, completed: false, correlationId: '' }),
    decide: { Record: (c) => c.records },
    evolve: {
      Received: (s, r) => {
        const input = r.input as WorkflowInput<I, D>;
        const pending = input.kind === 'deadline' ? withoutKey(s.pending, input.type) : s.pending;
        return {
          state: def.evolve(s.state, input),
          lastPosition: r.input.source ? Math.max(s.lastPosition, r.input.source.position) : s.lastPosition,
          pending,
          completed: s.completed,
          correlationId: s.correlationId || (r.correlationId ?? ''),
        };
      },
      DeadlineScheduled: (s, r) => ({ ...s, pending: { ...s.pending, [r.name]: { at: r.at, data: r.data } } }),
      DeadlineCancelled: (s, r) => ({ ...s, pending: withoutKey(s.pending, r.name) }),
      Completed: (s) => ({ ...s, completed: true }),
    },
  }) as unknown as InstanceAggregate<S>;
}

function withoutKey<T>(map: Record<string, T>, key: string): Record<string, T> {
  if (!Object.hasOwn(map, key)) return map;
  const out = { ...map };
  delete out[key];
  return out;
}
