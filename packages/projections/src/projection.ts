/**
 * What a projection is: a name, the stream patterns it reads, and a handler per event type that
 * updates its read model. The same definition runs asynchronously (a {@link ProjectionRunner}) or
 * inline, inside the append's commit ({@link attachInline}).
 *
 * @module
 */
import { compilePattern, InvalidArgumentError, type RecordedEvent } from '@strand/core';
import type { ReadModelTx } from './read-model.js';

/** Handles one event: reads and writes the read model through `tx`. */
export type EventHandler = (event: RecordedEvent, tx: ReadModelTx) => void | Promise<void>;

/** A projection definition. */
export interface ProjectionDefinition {
  /** Name: 1-40 letters, digits, '-' or '_'. Keys its checkpoint and read model. */
  name: string;
  /** Stream patterns (`orders/>`, `accounts/*\/acct-*`...). */
  patterns: readonly string[];
  /** Handlers by event type; `'*'` handles every other type. Events without a handler are skipped. */
  handlers: Readonly<Record<string, EventHandler>>;
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
export function defineProjection(definition: ProjectionDefinition): CompiledProjection {
  if (definition === null || typeof definition !== 'object') throw new InvalidArgumentError('defineProjection needs { name, patterns, handlers }.');
  const { name, patterns, handlers } = definition;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(name)) throw new InvalidArgumentError(`A projection name is 1-40 letters, digits, '-' or '_'; got ${String(name)}.`);
  if (!Array.isArray(patterns) || patterns.length === 0) throw new InvalidArgumentError(`Projection ${name} needs at least one stream pattern, e.g. ['orders/>'].`);
  const matchers = patterns.map((p) => compilePattern(p).matches);
  if (handlers === null || typeof handlers !== 'object') throw new InvalidArgumentError(`Projection ${name} needs handlers by event type.`);
  for (const [type, fn] of Object.entries(handlers)) {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`Projection ${name}: the handler for ${type} must be a function.`);
  }
  const fallback = handlers['*'];
  return {
    ...definition,
    matches: matchers.length === 1 ? matchers[0]! : (stream) => matchers.some((m) => m(stream)),
    handlerFor: (type) => (Object.hasOwn(handlers, type) ? handlers[type] : fallback),
  };
}
