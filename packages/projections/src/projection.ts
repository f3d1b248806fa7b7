/**
 * What a projection is: a name, the stream patterns it reads, and a handler per event type that
 * updates its read model. The same definition runs asynchronously (a {@link ProjectionRunner}) or
 * inline, inside the append's commit ({@link attachInline}).
 *
 * @module
 */
import { compilePattern, InvalidArgumentError, InvalidEventError, type RecordedEvent } from '@strand/core';
import type { z } from 'zod';
import type { ReadModelTx } from './read-model.js';
import type { TruncatedStart } from './truncated.js';

/** Handles one event: reads and writes the read model through `tx`. */
export type EventHandler = (event: RecordedEvent, tx: ReadModelTx) => void | Promise<void>;

/** Event schemas by type, e.g. an aggregate's `definition.events`. */
export type EventSchemas = Record<string, z.ZodType>;

/** Handlers of a typed projection: each gets its event's data parsed and typed by its schema. */
export type TypedHandlers<E extends EventSchemas> = { [K in keyof E & string]?: (event: RecordedEvent<z.output<E[K]>> & { readonly type: K }, tx: ReadModelTx) => void | Promise<void> } & {
  /** Every other event type of the patterns (data untyped). */
  '*'?: EventHandler;
};

/**
 * A secondary index of the built-in read-model store: documents of `collection` by the value(s)
 * `key` returns (`undefined`: not indexed). Kept in the same atomic batch as the documents;
 * queried with `view().query(index, value)`.
 */
export interface IndexDefinition {
  /** The collection it indexes. */
  collection: string;
  /** The indexed value(s) of a document. */
  key: (doc: never) => string | readonly string[] | undefined;
}

/** A typed projection definition: `events` gives every handler its data typed and parsed. */
export interface TypedProjectionDefinition<E extends EventSchemas> {
  /** Name: 1-40 letters, digits, '-' or '_'. Keys its checkpoint and read model. */
  name: string;
  /** Stream patterns (`orders/>`...). */
  patterns: readonly string[];
  /** Event schemas by type (an aggregate's `definition.events`, or your own). */
  events: E;
  /** Handlers by declared event type (and `'*'`). */
  handlers: TypedHandlers<E>;
  /** Secondary indexes by name (1-28 letters, digits, '-' or '_'). */
  indexes?: Readonly<Record<string, IndexDefinition>>;
  /** How a runner starts a stream whose early history was truncated unseen (see {@link ProjectionDefinition.truncated}). */
  truncated?: TruncatedStart;
}

/** A projection definition. */
export interface ProjectionDefinition {
  /** Name: 1-40 letters, digits, '-' or '_'. Keys its checkpoint and read model. */
  name: string;
  /** Stream patterns (`orders/>`, `accounts/*\/acct-*`...). */
  patterns: readonly string[];
  /** Handlers by event type; `'*'` handles every other type. Events without a handler are skipped. */
  handlers: Readonly<Record<string, EventHandler>>;
  /** Secondary indexes by name (1-28 letters, digits, '-' or '_'). */
  indexes?: Readonly<Record<string, IndexDefinition>>;
  /**
   * How a runner starts a stream whose early events were truncated before it saw them, when no
   * archive holds them: `'park'` (default: `STRAND_STREAM_TRUNCATED`, never a silently partial
   * read model) or `'from-first-kept'` (the handlers do not need the earlier history).
   */
  truncated?: TruncatedStart;
}

/** A checked definition with its compiled matcher. */
export interface CompiledProjection extends ProjectionDefinition {
  /** True if the stream matches one of the patterns. */
  matches(stream: string): boolean;
  /** The handler for an event, if any. */
  handlerFor(type: string): EventHandler | undefined;
}

/**
 * Defines a projection (validating it).
 *
 * @example
 * ```ts
 * const balances = defineProjection({
 *   name: 'balances',
 *   patterns: ['accounts/>'],
 *   handlers: {
 *     Credited: (e, tx) => tx.update('byAccount', e.stream, (d: { balance: number } | undefined) => ({ balance: (d?.balance ?? 0) + e.data.amount })),
 *   },
 * });
 * ```
 */
export function defineProjection<E extends EventSchemas>(definition: TypedProjectionDefinition<E>): CompiledProjection;
export function defineProjection(definition: ProjectionDefinition): CompiledProjection;
export function defineProjection(input: ProjectionDefinition | TypedProjectionDefinition<EventSchemas>): CompiledProjection {
  if (input === null || typeof input !== 'object') throw new InvalidArgumentError('defineProjection needs { name, patterns, handlers }.');
  const definition = 'events' in input && input.events !== undefined ? typed(input as TypedProjectionDefinition<EventSchemas>) : (input as ProjectionDefinition);
  const { name, patterns, handlers } = definition;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(name)) throw new InvalidArgumentError(`A projection name is 1-40 letters, digits, '-' or '_'; got ${String(name)}.`);
  if (!Array.isArray(patterns) || patterns.length === 0) throw new InvalidArgumentError(`Projection ${name} needs at least one stream pattern, e.g. ['orders/>'].`);
  const matchers = patterns.map((p) => compilePattern(p).matches);
  if (handlers === null || typeof handlers !== 'object') throw new InvalidArgumentError(`Projection ${name} needs handlers by event type.`);
  for (const [type, fn] of Object.entries(handlers)) {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Projection ${name}: the handler for ${type} must be a function.`);
  }
  for (const [index, ix] of Object.entries(definition.indexes ?? {})) {
    if (!/^[A-Za-z0-9_-]{1,28}$/.test(index)) throw new InvalidArgumentError(`Projection ${name}: an index name is 1-28 letters, digits, '-' or '_'; got ${index}.`);
    if (ix === null || typeof ix !== 'object' || typeof ix.key !== 'function' || typeof ix.collection !== 'string') {
      throw new InvalidArgumentError(`Projection ${name}: index ${index} needs { collection, key: (doc) => value }.`);
    }
  }
  if (definition.truncated !== undefined && definition.truncated !== 'park' && definition.truncated !== 'from-first-kept') {
    throw new InvalidArgumentError(`Projection ${name}: truncated must be 'park' or 'from-first-kept'.`);
  }
  const fallback = handlers['*'];
  return {
    ...definition,
    matches: matchers.length === 1 ? matchers[0]! : (stream) => matchers.some((m) => m(stream)),
    handlerFor: (type) => (Object.hasOwn(handlers, type) ? handlers[type] : fallback),
  };
}

/** Wraps typed handlers: each declared event's data is parsed by its schema before the handler runs. */
function typed(definition: TypedProjectionDefinition<EventSchemas>): ProjectionDefinition {
  const { events, handlers, name } = definition;
  if (events === null || typeof events !== 'object') throw new InvalidArgumentError(`Projection ${name}: events must be an object of zod schemas.`);
  if (handlers === null || typeof handlers !== 'object') throw new InvalidArgumentError(`Projection ${name} needs handlers by event type.`);
  const wrapped: Record<string, EventHandler> = {};
  for (const [type, fn] of Object.entries(handlers as Record<string, EventHandler | undefined>)) {
    if (fn === undefined) continue;
    if (type === '*') {
      wrapped[type] = fn;
      continue;
    }
    const schema = Object.hasOwn(events, type) ? events[type] : undefined;
    if (schema === undefined || typeof schema.safeParse !== 'function') throw new InvalidArgumentError(`Projection ${name}: a handler for ${type}, which events does not declare.`);
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Projection ${name}: the handler for ${type} must be a function.`);
    wrapped[type] = (event, tx) => {
      const parsed = schema.safeParse(event.data);
      // A stored event that fails its schema fails the handler: retried, then its stream parks.
      if (!parsed.success) throw new InvalidEventError(`${event.stream}@${event.version} (${type}) does not match the projection's schema: ${parsed.error.message}`, { stream: event.stream, version: event.version, type });
      return fn({ ...event, data: parsed.data }, tx);
    };
  }
  return { name, patterns: definition.patterns, handlers: wrapped, ...(definition.indexes ? { indexes: definition.indexes } : {}), ...(definition.truncated === undefined ? {} : { truncated: definition.truncated }) };
}
