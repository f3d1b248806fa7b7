/**
 * One declaration of event schemas: an aggregate's zod events are registered (and bound to its
 * streams) in the log's schema registry straight from the aggregate definition, with the
 * registry's compatibility checks, instead of being written a second time.
 *
 * @module
 */
import { type Compatibility, InvalidArgumentError, type SchemaStore, type Upcaster } from '@strand/core';
import { z } from 'zod';
import type { Aggregate, SchemaMap } from './define.js';

/** Options of {@link registerAggregate}. */
export interface RegisterAggregateOptions {
  /**
   * Bind the aggregate's streams to its event types, so they accept nothing else: `true` (the
   * default) binds `aggregate.streamPattern` (e.g. `accounts/>`), a string binds that pattern,
   * `false` binds nothing.
   */
  bind?: boolean | string;
  /** Compatibility mode for types registered for the first time (default: the registry's, 'backward'). */
  compatibility?: Compatibility;
  /** Upcasters from the registered version to the aggregate's, for changes the checks refuse. */
  upcasters?: Readonly<Record<string, Upcaster>>;
}

/** What {@link registerAggregate} did per event type. */
export interface RegisteredType {
  /** Event type. */
  readonly type: string;
  /** Its version in the registry now. */
  readonly version: number;
  /** `new` (first version), `changed` (a new version), or `same` (already registered). */
  readonly outcome: 'new' | 'changed' | 'same';
}

function jsonOf(schema: z.ZodType): string {
  try {
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }) as Record<string, unknown>;
    delete json.$schema;
    return JSON.stringify(json);
  } catch {
    return ''; // register() explains what cannot be stored
  }
}

/**
 * Registers every event type of an aggregate in the registry (a new version when its schema
 * changed, checked against the previous one; `STRAND_INCOMPATIBLE_SCHEMA` unless an upcaster is
 * given) and binds the aggregate's streams to them. Safe to call at every start-up.
 *
 * @example
 * ```ts
 * const registry = await SchemaRegistry.open(log);   // or, remote: await client.schemas()
 * await registerAggregate(registry, Account);   // Opened v1, Deposited v1... bound to accounts/>
 * ```
 */
export async function registerAggregate<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(
  registry: SchemaStore,
  aggregate: Aggregate<C, E, S>,
  options: RegisterAggregateOptions = {},
): Promise<RegisteredType[]> {
  if (registry === null || typeof registry !== 'object' || typeof registry.register !== 'function') throw new InvalidArgumentError('registerAggregate needs an open SchemaRegistry.');
  if (aggregate === null || typeof aggregate !== 'object' || typeof aggregate.decide !== 'function') throw new InvalidArgumentError('registerAggregate needs an aggregate made with defineAggregate().');
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('registerAggregate options must be an object.');
  const bind = options.bind ?? true;
  const pattern = bind === true ? aggregate.streamPattern : bind === false ? undefined : bind;
  if (bind === true && pattern === undefined) {
    throw new InvalidArgumentError(`Aggregate ${aggregate.name}: its stream rule has no single pattern; pass bind: 'pattern' or bind: false.`);
  }
  const out: RegisteredType[] = [];
  for (const [type, schema] of Object.entries(aggregate.definition.events as SchemaMap)) {
    const latest = registry.latest(type);
    const upcast = options.upcasters?.[type];
    if (latest === 0) {
      await registry.register(type, 1, schema, options.compatibility === undefined ? {} : { compatibility: options.compatibility });
      out.push({ type, version: 1, outcome: 'new' });
    } else if (JSON.stringify(registry.jsonSchema(type)) === jsonOf(schema)) {
      await registry.register(type, latest, schema, upcast === undefined ? {} : { upcast });
      out.push({ type, version: latest, outcome: 'same' });
    } else {
      await registry.register(type, latest + 1, schema, upcast === undefined ? {} : { upcast });
      out.push({ type, version: latest + 1, outcome: 'changed' });
    }
  }
  if (pattern !== undefined) await registry.bind(pattern, out.map((t) => t.type));
  return out;
}
