/**
 * An aggregate as a decider: plain data plus two pure functions. Types flow from the zod
 * schemas: commands, events and state are inferred, and an `evolve` handler for an event type the
 * aggregate does not declare does not compile.
 *
 * @module
 */
import { InvalidArgumentError, type RecordedEvent } from '@strand/core';
import type { z } from 'zod';
import { DomainError, InvalidCommandError, InvalidDecisionError, StoredEventInvalidError } from './errors.js';

/** Message types by name: `{ Deposited: z.object({...}), ... }`. */
export type SchemaMap = Record<string, z.ZodType>;

/** A message (command or event) of a schema map: `{ type, data }` with `data` typed per `type`. */
export type Message<M extends SchemaMap> = { [K in keyof M & string]: { type: K; data: z.output<M[K]> } }[keyof M & string];

/** What `decide` may use besides the command and the state (kept out of both so it stays pure). */
export interface DecideContext {
  /** The aggregate id. */
  readonly id: string;
  /** The time of the decision (injected, so `decide` stays deterministic). */
  readonly now: number;
}

/** What you write to define an aggregate. */
export interface AggregateDefinition<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType> {
  /** Name, used in errors and in snapshot keys. */
  name: string;
  /** Stream naming rule, e.g. `(id) => \`accounts/${id}\``. The id may contain `/` (tenant/id). */
  stream: (id: string) => string;
  /** Command schemas by command type. */
  commands: C;
  /** Event schemas by event type. */
  events: E;
  /** State schema: snapshots are validated against it. */
  state: S;
  /** Version of the state's shape; bump it when the state schema changes (old snapshots are then ignored). Default 1. */
  stateVersion?: number;
  /** State of an aggregate with no events. */
  initialState: () => z.output<S>;
  /** One handler per command type: the events it decides, or a thrown {@link DomainError}. */
  decide: { [K in keyof C & string]: (command: z.output<C[K]>, state: z.output<S>, context: DecideContext) => Message<E> | readonly Message<E>[] };
  /** One handler per event type: the next state. Must not mutate `state`. */
  evolve: { [K in keyof E & string]: (state: z.output<S>, data: z.output<E[K]>, event: EvolveContext) => z.output<S> };
  /**
   * Turns a snapshot written with an older `stateVersion` into today's state, or returns
   * `undefined` to ignore it (the state is then rebuilt from the events, when they still exist).
   */
  migrateSnapshot?: (state: unknown, fromVersion: number) => z.output<S> | undefined;
  /**
   * The inverse of `stream`, for stream rules that are not a fixed text around the id (the
   * default inverse strips the text `stream` puts before and after the id).
   */
  idOf?: (stream: string) => string | undefined;
  /**
   * Repairs stored events that do not fit their schema (appended by a process that did not enforce
   * it), keyed by the stored type (declared or not): return the data to use (it is then checked
   * against the schema of `as`, default the same type), or `null` to skip the event when folding.
   * Without a repair such an event fails loading with `STRAND_STORED_EVENT_INVALID`.
   */
  repair?: Record<string, (data: unknown, event: RecordedEvent) => unknown | null | { as: keyof E & string; data: unknown }>;
}

/** What `evolve` knows about the event besides its data. */
export interface EvolveContext {
  /** Version of the event in its stream (0 when folding events that are not stored yet). */
  readonly version: number;
  /** Commit time (0 when not stored yet). */
  readonly timestamp: number;
}

/** A defined aggregate: the definition plus the machinery the repository and harness use. */
export interface Aggregate<C extends SchemaMap = SchemaMap, E extends SchemaMap = SchemaMap, S extends z.ZodType = z.ZodType> {
  /** The definition as given. */
  readonly definition: AggregateDefinition<C, E, S>;
  /** Name. */
  readonly name: string;
  /** State shape version (default 1). */
  readonly stateVersion: number;
  /** Stream of an aggregate id. */
  streamOf(id: string): string;
  /**
   * The inverse of `stream(id)`: the aggregate id a stream belongs to, or `undefined` when the
   * stream is not one of this aggregate's. Derived from `stream` (or given as `idOf` in the
   * definition when `stream` is not a plain template around the id).
   */
  idOf(stream: string): string | undefined;
  /** A stream pattern that matches every stream of this aggregate (e.g. `accounts/>`), when one exists. */
  readonly streamPattern: string | undefined;
  /** Validates a command against its schema; returns it parsed (defaults applied). */
  parseCommand(command: Message<C>): Message<C>;
  /** Runs `decide` for a (parsed) command and validates the events it returns. */
  decide(command: Message<C>, state: z.output<S>, context: DecideContext): Message<E>[];
  /** Applies one event. */
  evolve(state: z.output<S>, event: Message<E>, context?: EvolveContext): z.output<S>;
  /** Folds events onto a state (the initial state by default). */
  fold(events: Iterable<Message<E>>, state?: z.output<S>): z.output<S>;
  /** Parses stored event data against its schema (throws on an undeclared type). */
  parseEvent(type: string, data: unknown): Message<E>;
  /** Parses a stored event, applying `repair`; `undefined` when a repair skips it. Throws `STRAND_STORED_EVENT_INVALID`. */
  parseStored(event: RecordedEvent): Message<E> | undefined;
  /** True if the aggregate declares this event type. */
  declaresEvent(type: string): boolean;
}

/** The state schema of an aggregate. */
export type StateSchemaOf<A> = A extends { readonly definition: { state: infer S extends z.ZodType } } ? S : never;
/** The command schema map of an aggregate. */
export type CommandsOf<A> = A extends { readonly definition: { commands: infer C extends SchemaMap } } ? C : never;
/** The event schema map of an aggregate. */
export type EventsOf<A> = A extends { readonly definition: { events: infer E extends SchemaMap } } ? E : never;
/** The state type of an aggregate: `StateOf<typeof Account>`. */
export type StateOf<A> = z.output<StateSchemaOf<A>>;
/** The command union of an aggregate (`{ type, data }` per command type). */
export type CommandOf<A> = Message<CommandsOf<A>>;
/** The event union of an aggregate (`{ type, data }` per event type). */
export type EventOf<A> = Message<EventsOf<A>>;

/** Marks where the id goes when `stream` is called to learn its shape (cannot occur in a stream name). */
const ID_MARK = '\u0000id\u0000';

/**
 * Learns the text `stream` puts around an id, so the id can be read back from a stream name.
 * Returns undefined when `stream` is not a fixed text around one copy of the id.
 */
function inverseOf(stream: (id: string) => string): { prefix: string; suffix: string } | undefined {
  let shape: unknown;
  try {
    shape = stream(ID_MARK);
  } catch {
    return undefined;
  }
  if (typeof shape !== 'string') return undefined;
  const at = shape.indexOf(ID_MARK);
  if (at < 0 || shape.indexOf(ID_MARK, at + 1) >= 0) return undefined;
  const prefix = shape.slice(0, at);
  const suffix = shape.slice(at + ID_MARK.length);
  // A second, different id must give the same shape: `stream` really is text around the id.
  const probe = 'x-1/y';
  return stream(probe) === `${prefix}${probe}${suffix}` ? { prefix, suffix } : undefined;
}

function issuesOf(error: z.ZodError): Array<{ path: PropertyKey[]; message: string }> {
  return error.issues.map((i) => ({ path: [...i.path], message: i.message }));
}

/**
 * Defines an aggregate.
 *
 * @example
 * ```ts
 * const Account = defineAggregate({
 *   name: 'account',
 *   stream: (id) => `accounts/${id}`,
 *   commands: { Deposit: z.object({ amount: z.number().positive() }) },
 *   events: { Deposited: z.object({ amount: z.number() }) },
 *   state: z.object({ balance: z.number() }),
 *   initialState: () => ({ balance: 0 }),
 *   decide: { Deposit: (c) => ({ type: 'Deposited', data: { amount: c.amount } }) },
 *   evolve: { Deposited: (s, e) => ({ balance: s.balance + e.amount }) },
 * });
 * ```
 */
export function defineAggregate<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(definition: AggregateDefinition<C, E, S>): Aggregate<C, E, S> {
  if (definition === null || typeof definition !== 'object') throw new InvalidArgumentError('defineAggregate needs a definition object.');
  const { name, stream, commands, events, state, decide, evolve, initialState } = definition;
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name)) {
    throw new InvalidArgumentError(`Aggregate name must be 1-64 letters, digits, '-' or '_' starting with a letter; got ${String(name)}.`);
  }
  for (const [what, v] of [['stream', stream], ['initialState', initialState]] as const) {
    if (typeof v !== 'function') throw new InvalidArgumentError(`Aggregate ${name}: ${what} must be a function.`);
  }
  for (const [what, map, handlers] of [['commands', commands, decide], ['events', events, evolve]] as const) {
    if (map === null || typeof map !== 'object' || handlers === null || typeof handlers !== 'object') {
      throw new InvalidArgumentError(`Aggregate ${name}: ${what} and its handlers must be objects.`);
    }
    for (const type of Object.keys(map)) {
      if (typeof (handlers as Record<string, unknown>)[type] !== 'function') {
        throw new InvalidArgumentError(`Aggregate ${name}: ${what === 'commands' ? 'decide' : 'evolve'} has no handler for ${type}.`);
      }
    }
  }
  if (state === null || typeof state !== 'object' || typeof (state as z.ZodType).safeParse !== 'function') {
    throw new InvalidArgumentError(`Aggregate ${name}: state must be a zod schema.`);
  }
  const stateVersion = definition.stateVersion ?? 1;
  if (!Number.isSafeInteger(stateVersion) || stateVersion < 1) throw new InvalidArgumentError(`Aggregate ${name}: stateVersion must be an integer >= 1.`);
  const commandSchemas = commands as SchemaMap;
  const eventSchemas = events as SchemaMap;
  const decideFns = decide as Record<string, (c: unknown, s: unknown, ctx: DecideContext) => unknown>;
  const evolveFns = evolve as Record<string, (s: unknown, d: unknown, ctx: EvolveContext) => unknown>;
  const noContext: EvolveContext = { version: 0, timestamp: 0 };
  if (definition.idOf !== undefined && typeof definition.idOf !== 'function') throw new InvalidArgumentError(`Aggregate ${name}: idOf must be a function.`);
  const shape = definition.idOf === undefined ? inverseOf(stream) : undefined;
  const idOf =
    definition.idOf ??
    ((s: string) => {
      if (shape === undefined) throw new InvalidArgumentError(`Aggregate ${name}: its stream rule is not a fixed text around the id; give the definition an idOf(stream) function.`);
      if (typeof s !== 'string' || s.length <= shape.prefix.length + shape.suffix.length || !s.startsWith(shape.prefix) || !s.endsWith(shape.suffix)) return undefined;
      return s.slice(shape.prefix.length, s.length - shape.suffix.length);
    });
  // `accounts/${id}` gives `accounts/>`; a rule with text after the id has no single pattern.
  const streamPattern = shape !== undefined && shape.suffix === '' && shape.prefix.endsWith('/') && shape.prefix.length > 1 ? `${shape.prefix}>` : undefined;

  const aggregate: Aggregate<C, E, S> = {
    definition,
    name,
    stateVersion,
    streamOf: (id) => {
      if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError(`Aggregate ${name}: an id must be a non-empty string.`);
      return stream(id);
    },
    idOf: (s) => idOf(s),
    streamPattern,
    parseCommand(command) {
      if (command === null || typeof command !== 'object' || typeof command.type !== 'string') {
        throw new InvalidCommandError(name, String((command as { type?: unknown } | null)?.type), [{ path: [], message: 'a command is { type, data }' }]);
      }
      const schema = Object.hasOwn(commandSchemas, command.type) ? commandSchemas[command.type] : undefined;
      if (schema === undefined) {
        throw new InvalidCommandError(name, command.type, [{ path: ['type'], message: `unknown command; ${name} accepts ${Object.keys(commandSchemas).join(', ')}` }]);
      }
      const parsed = schema.safeParse(command.data);
      if (!parsed.success) throw new InvalidCommandError(name, command.type, issuesOf(parsed.error));
      return { type: command.type, data: parsed.data } as Message<C>;
    },
    decide(command, current, context) {
      const out = decideFns[command.type]!(command.data, current, context);
      const list = (Array.isArray(out) ? out : [out]) as Array<{ type: unknown; data: unknown }>;
      return list.map((e) => {
        if (e === null || typeof e !== 'object' || typeof e.type !== 'string' || !Object.hasOwn(eventSchemas, e.type)) {
          throw new InvalidDecisionError(name, `undeclared event ${String((e as { type?: unknown } | null)?.type)}`);
        }
        const parsed = eventSchemas[e.type]!.safeParse(e.data);
        if (!parsed.success) throw new InvalidDecisionError(name, `${e.type}: ${issuesOf(parsed.error).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        return { type: e.type, data: parsed.data } as Message<E>;
      });
    },
    evolve(current, event, context = noContext) {
      const fn = evolveFns[event.type];
      if (fn === undefined) throw new InvalidDecisionError(name, `no evolve handler for ${event.type}`);
      return fn(current, event.data, context) as z.output<S>;
    },
    fold(list, start) {
      let s = start ?? initialState();
      for (const e of list) s = aggregate.evolve(s, e);
      return s;
    },
    parseEvent(type, data) {
      const schema = Object.hasOwn(eventSchemas, type) ? eventSchemas[type] : undefined;
      if (schema === undefined) throw new InvalidDecisionError(name, `stream holds event type ${type}, which ${name} does not declare`);
      const parsed = schema.safeParse(data);
      if (!parsed.success) throw new InvalidDecisionError(name, `stored ${type} does not match its schema: ${parsed.error.message}`);
      return { type, data: parsed.data } as Message<E>;
    },
    parseStored(event) {
      const fix = definition.repair !== undefined && Object.hasOwn(definition.repair, event.type) ? definition.repair[event.type] : undefined;
      let type = event.type;
      let data = event.data;
      if (fix !== undefined) {
        const fixed = fix(event.data, event);
        if (fixed === null) return undefined;
        if (fixed !== null && typeof fixed === 'object' && 'as' in fixed && typeof (fixed as { as: unknown }).as === 'string' && 'data' in fixed) {
          type = (fixed as { as: string }).as;
          data = (fixed as { data: unknown }).data;
        } else data = fixed;
      }
      const schema = Object.hasOwn(eventSchemas, type) ? eventSchemas[type] : undefined;
      if (schema === undefined) throw new StoredEventInvalidError(name, event, `type ${type} is not one of the events ${name} declares (${Object.keys(eventSchemas).join(', ')})`);
      const parsed = schema.safeParse(data);
      if (!parsed.success) {
        throw new StoredEventInvalidError(name, event, `${fix === undefined ? '' : 'after its repair, '}${issuesOf(parsed.error).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      }
      return { type, data: parsed.data } as Message<E>;
    },
    declaresEvent: (type) => Object.hasOwn(eventSchemas, type),
  };
  return aggregate;
}

/** Convenience for `decide`: throws a {@link DomainError} when `condition` is false. */
export function ensure(condition: boolean, reason: string, message: string, details?: Record<string, unknown>): asserts condition {
  if (!condition) throw new DomainError(reason, message, details);
}

/** Folds stored events (as read from the log) with their versions and timestamps. */
export function foldRecorded<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(aggregate: Aggregate<C, E, S>, state: z.output<S>, event: RecordedEvent): z.output<S> {
  const message = aggregate.parseStored(event);
  if (message === undefined) return state;
  return aggregate.evolve(state, message, { version: event.version, timestamp: event.timestamp });
}
