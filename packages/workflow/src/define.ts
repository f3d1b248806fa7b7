/**
 * A workflow (process manager) as data, like a decider: `decide(input, state)` returns actions
 * (commands to aggregates, deadlines, completion), `evolve(state, input)` folds its inputs. Inputs
 * are events of other streams (matched by pattern and type), deadlines that came due, and
 * refusals of the commands it sent. Design: docs/design/0012-workflows.md.
 *
 * @module
 */
import type { Aggregate, Message, SchemaMap } from '@strand/aggregate';
import { compilePattern, InvalidArgumentError } from '@strand/core';
import type { z } from 'zod';
import { InvalidWorkflowActionError } from './errors.js';

/** A command refused by its aggregate (`DomainError`), fed back to the workflow as an input. */
export interface Rejection {
  /** Aggregate name. */
  readonly aggregate: string;
  /** Aggregate id. */
  readonly id: string;
  /** The refused command's type. */
  readonly command: string;
  /** The aggregate's reason code (e.g. `OUT_OF_STOCK`). */
  readonly reason: string;
  /** Its message. */
  readonly message: string;
}

/** Where an event input came from. */
export interface InputSource {
  /** Stream of the event. */
  readonly stream: string;
  /** Its version there. */
  readonly version: number;
  /** Its global position. */
  readonly position: number;
  /** Its id. */
  readonly id: string;
}

/** An event that triggered the workflow, with data parsed by its schema. */
export type EventInput<I extends SchemaMap> = { [K in keyof I & string]: { kind: 'event'; type: K; data: z.output<I[K]>; source: InputSource } }[keyof I & string];
/** A deadline that came due, with the data it was scheduled with. */
export type DeadlineInput<D extends SchemaMap> = { [K in keyof D & string]: { kind: 'deadline'; type: K; data: z.output<D[K]>; at: number } }[keyof D & string];
/** A command of this workflow refused by its aggregate. */
export interface RejectedInput {
  /** Kind. */
  kind: 'rejected';
  /** Always `CommandRejected`. */
  type: 'CommandRejected';
  /** What was refused and why. */
  data: Rejection;
}
/** Everything a workflow reacts to. */
export type WorkflowInput<I extends SchemaMap, D extends SchemaMap> = EventInput<I> | DeadlineInput<D> | RejectedInput;

/** A command to an aggregate. */
export interface SendAction {
  /** Kind. */
  readonly kind: 'send';
  /** Aggregate name (the runner has its repository). */
  readonly aggregate: string;
  /** Aggregate id. */
  readonly id: string;
  /** The command. */
  readonly command: { type: string; data: unknown };
}
/** Schedules (or moves) a named deadline of this instance. */
export interface ScheduleAction {
  /** Kind. */
  readonly kind: 'schedule';
  /** Deadline name (declared in `deadlines`). */
  readonly deadline: string;
  /** When it comes due (ms since epoch). */
  readonly at: number;
  /** Its data (validated by the deadline's schema). */
  readonly data: unknown;
}
/** Cancels a named deadline of this instance (nothing if none is pending). */
export interface CancelAction {
  /** Kind. */
  readonly kind: 'cancel';
  /** Deadline name. */
  readonly deadline: string;
}
/** Ends the instance: pending deadlines are cancelled, later inputs ignored. */
export interface CompleteAction {
  /** Kind. */
  readonly kind: 'complete';
}
/** What `decide` returns (one or a list). */
export type WorkflowAction = SendAction | ScheduleAction | CancelAction | CompleteAction;

/** Sends a command to an aggregate (typed by the aggregate). */
export function send<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(aggregate: Aggregate<C, E, S>, id: string, command: Message<C>): SendAction {
  return { kind: 'send', aggregate: aggregate.name, id, command };
}
/** Schedules the deadline `name` at `at` (ms since epoch, usually `context.now + delay`). */
export function schedule(deadline: string, at: number, data: unknown = {}): ScheduleAction {
  return { kind: 'schedule', deadline, at, data };
}
/** Cancels the deadline `name`. */
export function cancel(deadline: string): CancelAction {
  return { kind: 'cancel', deadline };
}
/** Completes the instance. */
export function complete(): CompleteAction {
  return { kind: 'complete' };
}

/** What `decide` may use besides the input and the state. */
export interface WorkflowContext {
  /** The instance id. */
  readonly instance: string;
  /** The decision time (injected, so `decide` stays deterministic). */
  readonly now: number;
}

/** The event a trigger routes: type, parsed data, stream and metadata. */
export interface TriggerEvent<I extends SchemaMap> {
  /** Event type. */
  readonly type: keyof I & string;
  /** Parsed data. */
  readonly data: z.output<I[keyof I & string]>;
  /** Its stream. */
  readonly stream: string;
  /** Its metadata (a correlation id, when an earlier step caused it). */
  readonly metadata: Record<string, unknown> | undefined;
}

/** What you write to define a workflow. */
export interface WorkflowDefinition<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType> {
  /** Name (1-40 letters, digits, '-', '_'): keys its streams (`workflows/<name>/<instance>`) and checkpoint. */
  name: string;
  /** Schemas of the events it reacts to, by type (often an aggregate's, e.g. `Order.definition.events.Placed`). */
  inputs: I;
  /** Stream patterns and the input types taken from them: `{ 'orders/>': ['OrderPlaced', 'OrderPaid'] }`. */
  triggers: { readonly [pattern: string]: readonly (keyof I & string)[] };
  /** The instance an event belongs to (e.g. the order id), or undefined to ignore the event. */
  instanceOf: (event: TriggerEvent<I>) => string | undefined;
  /** Input types that may start an instance (default: all); others are ignored before a start. */
  starts?: readonly (keyof I & string)[];
  /** Deadline data schemas by deadline name. */
  deadlines?: D;
  /** State schema (snapshots of long-lived instances are validated against it). */
  state: S;
  /** State before the first input. */
  initialState: () => z.output<S>;
  /** Decides what to do about an input, given the state before it. Pure. */
  decide: (input: WorkflowInput<I, D>, state: z.output<S>, context: WorkflowContext) => WorkflowAction | readonly WorkflowAction[] | undefined | void;
  /** Folds an input into the state. Pure; must not mutate `state`. */
  evolve: (state: z.output<S>, input: WorkflowInput<I, D>) => z.output<S>;
}

/** A defined workflow: the definition plus the checks and routing the runner and harness use. */
export interface Workflow<I extends SchemaMap = SchemaMap, D extends SchemaMap = SchemaMap, S extends z.ZodType = z.ZodType> {
  /** The definition as given. */
  readonly definition: WorkflowDefinition<I, D, S>;
  /** Name. */
  readonly name: string;
  /** Stream of an instance: `workflows/<name>/<instance>`. */
  streamOf(instance: string): string;
  /** The instance an event routes to, with its parsed input; undefined when it does not trigger. */
  route(event: { stream: string; type: string; data: unknown; metadata: Record<string, unknown> | undefined }): { instance: string; data: unknown } | undefined;
  /** True if this input type may start an instance. */
  startsWith(type: string): boolean;
  /** Runs `decide` and checks every action (declared deadline, valid data, known action kind). */
  decide(input: WorkflowInput<I, D>, state: z.output<S>, context: WorkflowContext): WorkflowAction[];
  /** Parses a deadline's data by its schema. */
  parseDeadline(name: string, data: unknown): unknown;
}

/**
 * Defines a workflow (validating it).
 *
 * @example
 * ```ts
 * const Fulfilment = defineWorkflow({
 *   name: 'fulfilment',
 *   inputs: { OrderPlaced: Order.definition.events.OrderPlaced },
 *   triggers: { 'orders/>': ['OrderPlaced'] },
 *   instanceOf: (e) => e.stream.slice('orders/'.length),
 *   state: z.object({ step: z.string() }),
 *   initialState: () => ({ step: 'new' }),
 *   decide: (input, state, { instance }) => input.type === 'OrderPlaced' ? send(Stock, input.data.sku, { type: 'Reserve', data: { order: instance, quantity: 1 } }) : [],
 *   evolve: (state, input) => ({ step: input.type }),
 * });
 * ```
 */
export function defineWorkflow<I extends SchemaMap, D extends SchemaMap = Record<never, z.ZodType>, S extends z.ZodType = z.ZodType>(definition: WorkflowDefinition<I, D, S>): Workflow<I, D, S> {
  if (definition === null || typeof definition !== 'object') throw new InvalidArgumentError('defineWorkflow needs a definition object.');
  const { name, inputs, triggers, instanceOf, decide, evolve, initialState, state } = definition;
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(name)) throw new InvalidArgumentError(`A workflow name is 1-40 letters, digits, '-' or '_' starting with a letter; got ${String(name)}.`);
  for (const [what, fn] of [['instanceOf', instanceOf], ['decide', decide], ['evolve', evolve], ['initialState', initialState]] as const) {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Workflow ${name}: ${what} must be a function.`);
  }
  if (state === null || typeof state !== 'object' || typeof (state as z.ZodType).safeParse !== 'function') throw new InvalidArgumentError(`Workflow ${name}: state must be a zod schema.`);
  const inputSchemas = (inputs ?? {}) as SchemaMap;
  const deadlineSchemas = (definition.deadlines ?? {}) as SchemaMap;
  for (const [what, map] of [['inputs', inputSchemas], ['deadlines', deadlineSchemas]] as const) {
    if (map === null || typeof map !== 'object') throw new InvalidArgumentError(`Workflow ${name}: ${what} must be an object of zod schemas.`);
    for (const [k, v] of Object.entries(map)) {
      if (v === null || typeof v !== 'object' || typeof v.safeParse !== 'function') throw new InvalidArgumentError(`Workflow ${name}: ${what}.${k} must be a zod schema.`);
    }
  }
  for (const k of Object.keys(deadlineSchemas)) {
    if (Object.hasOwn(inputSchemas, k) || k === 'CommandRejected') throw new InvalidArgumentError(`Workflow ${name}: deadline ${k} has the name of an input; names must differ.`);
  }
  if (Object.hasOwn(inputSchemas, 'CommandRejected')) throw new InvalidArgumentError(`Workflow ${name}: CommandRejected is the input of refused commands; rename the event input.`);
  if (triggers === null || typeof triggers !== 'object' || Object.keys(triggers).length === 0) throw new InvalidArgumentError(`Workflow ${name} needs triggers: { 'pattern': ['EventType', ...] }.`);
  const routes = Object.entries(triggers).map(([pattern, types]) => {
    const { matches } = compilePattern(pattern);
    if (!Array.isArray(types) || types.length === 0) throw new InvalidArgumentError(`Workflow ${name}: trigger ${pattern} needs at least one input type.`);
    for (const t of types) if (!Object.hasOwn(inputSchemas, t)) throw new InvalidArgumentError(`Workflow ${name}: trigger ${pattern} names ${String(t)}, which is not in inputs.`);
    if (pattern === '>' || pattern.startsWith('workflows/')) throw new InvalidArgumentError(`Workflow ${name}: trigger ${pattern} would match workflow streams; use the streams of your aggregates.`);
    return { matches, types: new Set<string>(types) };
  });
  const starts = definition.starts === undefined ? undefined : new Set<string>(definition.starts);
  for (const t of starts ?? []) if (!Object.hasOwn(inputSchemas, t)) throw new InvalidArgumentError(`Workflow ${name}: starts names ${t}, which is not in inputs.`);
  const bad = (detail: string) => new InvalidWorkflowActionError(name, detail);

  const workflow: Workflow<I, D, S> = {
    definition,
    name,
    streamOf: (instance) => {
      if (typeof instance !== 'string' || instance.length === 0) throw new InvalidArgumentError(`Workflow ${name}: an instance id is a non-empty string.`);
      return `workflows/${name}/${instance}`;
    },
    route(event) {
      if (!routes.some((r) => r.types.has(event.type) && r.matches(event.stream))) return undefined;
      const parsed = inputSchemas[event.type]!.safeParse(event.data);
      if (!parsed.success) throw new InvalidArgumentError(`Workflow ${name}: ${event.type} on ${event.stream} does not match its input schema: ${parsed.error.message}`);
      const instance = instanceOf({ type: event.type, data: parsed.data, stream: event.stream, metadata: event.metadata } as TriggerEvent<I>);
      if (instance === undefined) return undefined;
      if (typeof instance !== 'string' || instance.length === 0) throw new InvalidArgumentError(`Workflow ${name}: instanceOf returned ${String(instance)}; return a non-empty string or undefined.`);
      return { instance, data: parsed.data };
    },
    startsWith: (type) => starts === undefined || starts.has(type),
    decide(input, current, context) {
      const out = decide(input, current, context);
      const list = (out === undefined ? [] : Array.isArray(out) ? out : [out]) as WorkflowAction[];
      return list.map((a) => {
        if (a === null || typeof a !== 'object') throw bad(`decide returned ${String(a)} instead of an action`);
        switch (a.kind) {
          case 'send':
            if (typeof a.aggregate !== 'string' || typeof a.id !== 'string' || a.id.length === 0 || a.command === null || typeof a.command !== 'object') throw bad('a send needs an aggregate, an id and a command');
            return a;
          case 'schedule': {
            if (!Object.hasOwn(deadlineSchemas, a.deadline)) throw bad(`deadline ${String(a.deadline)} is not declared in deadlines`);
            if (typeof a.at !== 'number' || !Number.isFinite(a.at)) throw bad(`deadline ${a.deadline} needs a time (ms since epoch)`);
            return { ...a, data: workflow.parseDeadline(a.deadline, a.data) };
          }
          case 'cancel':
            if (!Object.hasOwn(deadlineSchemas, a.deadline)) throw bad(`deadline ${String(a.deadline)} is not declared in deadlines`);
            return a;
          case 'complete':
            return a;
          default:
            throw bad(`unknown action kind ${String((a as { kind?: unknown }).kind)}`);
        }
      });
    },
    parseDeadline(deadline, data) {
      const parsed = deadlineSchemas[deadline]?.safeParse(data);
      if (parsed === undefined || !parsed.success) throw bad(`the data of deadline ${deadline} does not match its schema${parsed ? `: ${parsed.error.message}` : ''}`);
      return parsed.data;
    },
  };
  return workflow;
}
