/**
 * The schema registry: event types with zod schemas and versions, kept in the log's own store, so
 * any process that opens the log knows every schema (as JSON Schema, validated with
 * `z.fromJSONSchema` when the process did not register the zod schema itself). Validates appends,
 * records each event's schema version, and upcasts old events to the latest version on read.
 * Design: docs/design/0006-schemas.md.
 *
 * @module
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import type { EventLog } from '../log.js';
import { compilePattern } from '../names.js';
import type { AppendInterceptor, ReadInterceptor, Sublevel } from '../plugins.js';
import type { EventInput, RecordedEvent } from '../types.js';
import { type Compatibility, compatibilityProblems, type JsonSchema } from './compat.js';
import { IncompatibleSchemaError, SchemaConflictError, type SchemaIssue, SchemaValidationError, UnknownEventTypeError } from './errors.js';

/** Turns data of version `n` into data of version `n + 1`. */
export type Upcaster = (data: unknown) => unknown;

/** Options of {@link SchemaRegistry.register}. */
export interface RegisterOptions {
  /** Compatibility mode of the type, checked against the previous version (default 'backward'). */
  compatibility?: Compatibility;
  /** Upcaster from the previous version; required when the change is not compatible. */
  upcast?: Upcaster;
}

/** A registered event type: a typed helper to build events. */
export interface EventType<T extends string, D> {
  /** The type name. */
  readonly type: T;
  /** Latest version. */
  readonly version: number;
  /** Builds a typed event input. */
  event(data: D, extra?: Omit<EventInput<D>, 'type' | 'data'>): EventInput<D> & { type: T };
}

/** The data type of a registered event type. */
export type EventData<E> = E extends EventType<string, infer D> ? D : never;

interface StoredVersion {
  version: number;
  jsonSchema: JsonSchema;
  registeredAt: number;
}

interface StoredType {
  type: string;
  compatibility: Compatibility;
  versions: StoredVersion[];
}

interface Loaded {
  stored: StoredType;
  validators: Map<number, z.ZodType>;
  upcasters: Map<number, Upcaster>;
}

/**
 * The schema registry as an application uses it: register versions, bind patterns, and look up
 * what is registered. The embedded {@link SchemaRegistry} and the network client's registry
 * (`client.schemas()` in `@strand/client`) both implement it, so code that registers its event
 * types (e.g. `registerAggregate`) runs unchanged against either.
 */
export type SchemaStore = Pick<SchemaRegistry, 'register' | 'bind' | 'latest' | 'list' | 'jsonSchema'>;

/** Options of {@link SchemaRegistry.open}. */
export interface RegistryOptions {
  /** Reject appends of types that are not registered, on every stream (default false). */
  strict?: boolean;
  /** Clock. */
  clock?: () => number;
}

function issuesOf(error: z.ZodError): SchemaIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The registry installed on each open log (one per log, so validation and upcasting run once). */
const installed = new WeakMap<EventLog, SchemaRegistry>();

/** The registry of one log. */
export class SchemaRegistry {
  private readonly types = new Map<string, Loaded>();
  private readonly bindings = new Map<string, { matches: (s: string) => boolean; types: Set<string> }>();
  private readonly remove: () => void;

  private constructor(
    private readonly db: Sublevel,
    private readonly log: EventLog,
    private readonly options: { strict?: boolean; clock?: () => number },
  ) {
    this.remove = log.addInterceptors({ append: this.validator, read: this.upcaster });
  }

  /**
   * Opens the registry of a log: loads every stored schema and binding, and installs the append
   * validation and the read-side upcasting on the log.
   */
  static async open(log: EventLog, options: RegistryOptions = {}): Promise<SchemaRegistry> {
    if (log === null || typeof log !== 'object' || typeof log.sublevel !== 'function') throw new InvalidArgumentError('SchemaRegistry.open needs an open EventLog.');
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('SchemaRegistry.open options must be an object.');
    // The log already enforces its stored registry (loaded when it opened): hand out that one.
    const existing = installed.get(log);
    if (existing !== undefined) {
      if (options.strict !== undefined) existing.options.strict = options.strict;
      if (options.clock !== undefined) existing.options.clock = options.clock;
      return existing;
    }
    const registry = new SchemaRegistry(log.sublevel('schemas'), log, { ...options });
    installed.set(log, registry);
    for await (const [key, value] of registry.db.iterator()) {
      const k = key as string;
      if (k.startsWith('type:')) {
        const stored = value as StoredType;
        const validators = new Map<number, z.ZodType>();
        for (const v of stored.versions) validators.set(v.version, z.fromJSONSchema(v.jsonSchema as never) as z.ZodType);
        registry.types.set(stored.type, { stored, validators, upcasters: new Map() });
      } else if (k.startsWith('bind:')) {
        const b = value as { pattern: string; types: string[] };
        registry.bindings.set(b.pattern, { matches: compilePattern(b.pattern).matches, types: new Set(b.types) });
      }
    }
    return registry;
  }

  /**
   * Registers version `version` of an event type. Version 1 first, then each next one, checked
   * against the previous version under the type's compatibility mode; an incompatible change
   * needs an `upcast` from the previous version. Re-registering the same version with the same
   * schema is a no-op (every process registers at start-up); with another schema it fails.
   */
  async register<T extends string, S extends z.ZodType>(type: T, version: number, schema: S, options: RegisterOptions = {}): Promise<EventType<T, z.output<S>>> {
    if (typeof type !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/.test(type)) throw new InvalidArgumentError(`An event type is 1-128 letters, digits, '_', '.', '-' starting with a letter; got ${String(type)}.`);
    if (!Number.isSafeInteger(version) || version < 1) throw new InvalidArgumentError(`A schema version is an integer >= 1; got ${String(version)}.`);
    if (schema === null || typeof schema !== 'object' || typeof (schema as z.ZodType).safeParse !== 'function') throw new InvalidArgumentError(`The schema of ${type} must be a zod schema.`);
    const mode = options.compatibility ?? this.types.get(type)?.stored.compatibility ?? 'backward';
    if (!['backward', 'forward', 'full', 'none'].includes(mode)) throw new InvalidArgumentError(`compatibility must be backward, forward, full or none; got ${String(mode)}.`);
    if (options.upcast !== undefined && typeof options.upcast !== 'function') throw new InvalidArgumentError('upcast must be a function (data of the previous version) => data of this one.');
    let jsonSchema: JsonSchema;
    try {
      jsonSchema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }) as JsonSchema;
    } catch (cause) {
      throw new InvalidArgumentError(`The schema of ${type} v${version} cannot be stored as JSON Schema (${String((cause as Error).message)}); use JSON-representable types (dates as ISO strings).`);
    }
    delete jsonSchema.$schema;
    return this.store(type, version, jsonSchema, schema, mode, options.upcast);
  }

  /**
   * Registers version `version` of an event type given as JSON Schema (what a remote client sends:
   * the JSON Schema of its zod schema, stored as given, so registering the same schema again is
   * recognised). Appends are validated with `z.fromJSONSchema` of it. Same rules as
   * {@link SchemaRegistry.register}; an incompatible change cannot bring an upcaster from afar
   * (upcasters are code in the process that opens the log) and fails with
   * `STRAND_INCOMPATIBLE_SCHEMA` unless the compatibility mode is `none`.
   */
  async registerJsonSchema(type: string, version: number, jsonSchema: JsonSchema, options: { compatibility?: Compatibility } = {}): Promise<EventType<string, unknown>> {
    if (typeof type !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/.test(type)) throw new InvalidArgumentError(`An event type is 1-128 letters, digits, '_', '.', '-' starting with a letter; got ${String(type)}.`);
    if (!Number.isSafeInteger(version) || version < 1) throw new InvalidArgumentError(`A schema version is an integer >= 1; got ${String(version)}.`);
    if (jsonSchema === null || typeof jsonSchema !== 'object' || Array.isArray(jsonSchema)) throw new InvalidArgumentError(`The schema of ${type} must be a JSON Schema object.`);
    const mode = options?.compatibility ?? this.types.get(type)?.stored.compatibility ?? 'backward';
    if (!['backward', 'forward', 'full', 'none'].includes(mode)) throw new InvalidArgumentError(`compatibility must be backward, forward, full or none; got ${String(mode)}.`);
    const copy = JSON.parse(JSON.stringify(jsonSchema)) as JsonSchema;
    delete copy.$schema;
    let validator: z.ZodType;
    try {
      validator = z.fromJSONSchema(copy as never) as z.ZodType;
    } catch (cause) {
      throw new InvalidArgumentError(`The JSON Schema of ${type} v${version} is not one the registry can validate with (${String((cause as Error).message)}).`);
    }
    return this.store(type, version, copy, validator, mode, undefined, true);
  }

  private async store<T extends string, D>(type: T, version: number, jsonSchema: JsonSchema, schema: z.ZodType, mode: Compatibility, upcast: Upcaster | undefined, fromJson = false): Promise<EventType<T, D>> {
    const options = { upcast };
    const current = this.types.get(type);
    const latest = current?.stored.versions.at(-1)?.version ?? 0;
    if (version <= latest) {
      const existing = current!.stored.versions.find((v) => v.version === version)!;
      if (!sameJson(existing.jsonSchema, jsonSchema)) {
        throw new SchemaConflictError(`${type} v${version} is already registered with another schema. Register the change as v${latest + 1}.`, { type, version });
      }
      // A remote re-registration keeps the zod schema this process registered, if any.
      if (!fromJson || !current!.validators.has(version)) current!.validators.set(version, schema);
      if (options.upcast && version > 1) current!.upcasters.set(version - 1, options.upcast);
      return this.handle(type, latest);
    }
    if (version !== latest + 1) throw new SchemaConflictError(`${type} is at v${latest}; register v${latest + 1} next, not v${version}.`, { type, version, latest });
    if (current && mode !== 'none') {
      const previous = current.stored.versions.at(-1)!.jsonSchema;
      const problems = compatibilityProblems(previous, jsonSchema, mode);
      if (problems.length > 0 && options.upcast === undefined) throw new IncompatibleSchemaError(type, version, mode, problems);
    }
    const stored: StoredType = {
      type,
      compatibility: mode,
      versions: [...(current?.stored.versions ?? []), { version, jsonSchema, registeredAt: (this.options.clock ?? Date.now)() }],
    };
    await this.db.put(`type:${type}`, stored, { sync: true } as never);
    const loaded: Loaded = current ?? { stored, validators: new Map(), upcasters: new Map() };
    loaded.stored = stored;
    loaded.validators.set(version, schema);
    if (options.upcast) loaded.upcasters.set(version - 1, options.upcast);
    this.types.set(type, loaded);
    return this.handle(type, version);
  }

  private handle<T extends string, D>(type: T, version: number): EventType<T, D> {
    return { type, version, event: (data, extra = {}) => ({ ...extra, type, data }) };
  }

  /** Registers an upcaster from `fromVersion` to `fromVersion + 1` (code is not stored). */
  upcast(type: string, fromVersion: number, fn: Upcaster): void {
    const t = this.types.get(type);
    if (t === undefined || !t.stored.versions.some((v) => v.version === fromVersion + 1)) throw new InvalidArgumentError(`${type} has no v${fromVersion + 1} to upcast to.`);
    if (typeof fn !== 'function') throw new InvalidArgumentError('An upcaster is a function.');
    t.upcasters.set(fromVersion, fn);
  }

  /** Binds a stream pattern to event types: appends to matching streams accept only those. */
  async bind(pattern: string, types: readonly string[]): Promise<void> {
    const { matches } = compilePattern(pattern);
    if (!Array.isArray(types) || types.length === 0) throw new InvalidArgumentError('bind needs at least one event type.');
    for (const t of types) if (!this.types.has(t)) throw new InvalidArgumentError(`Register ${String(t)} before binding it to ${pattern}.`);
    await this.db.put(`bind:${pattern}`, { pattern, types: [...types] }, { sync: true } as never);
    this.bindings.set(pattern, { matches, types: new Set(types) });
  }

  /** Latest version of a type (0 if unknown). */
  latest(type: string): number {
    return this.types.get(type)?.stored.versions.at(-1)?.version ?? 0;
  }

  /** Every registered type with its versions, compatibility and JSON Schemas. */
  list(): Array<{ type: string; compatibility: Compatibility; versions: Array<{ version: number; jsonSchema: JsonSchema; registeredAt: number }> }> {
    return [...this.types.values()].map((t) => ({ type: t.stored.type, compatibility: t.stored.compatibility, versions: t.stored.versions }));
  }

  /** Every binding: a stream pattern and the event types its streams accept, in pattern order. */
  listBindings(): Array<{ pattern: string; types: string[] }> {
    const out = [...this.bindings].map(([pattern, b]) => ({ pattern, types: [...b.types] }));
    return out.sort((a, b) => (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
  }

  /** The JSON Schema of a type's version (latest by default). */
  jsonSchema(type: string, version?: number): JsonSchema | undefined {
    const t = this.types.get(type);
    return (version === undefined ? t?.stored.versions.at(-1) : t?.stored.versions.find((v) => v.version === version))?.jsonSchema;
  }

  /** Validates events and stamps their schema version; throws before anything is written. */
  readonly validator: AppendInterceptor = {
    name: 'schema-registry',
    onAppend: (events, context) => {
      let binding: { pattern: string; types: Set<string> } | undefined;
      for (const [pattern, b] of this.bindings) if (b.matches(context.stream)) binding = { pattern, types: new Set([...(binding?.types ?? []), ...b.types]) };
      return events.map((e, index) => {
        const t = this.types.get(e.type);
        if (binding !== undefined && !binding.types.has(e.type)) throw new UnknownEventTypeError(e.type, context.stream, [...binding.types], binding.pattern);
        if (t === undefined) {
          if (this.options.strict) throw new UnknownEventTypeError(e.type, context.stream, [], undefined);
          return e;
        }
        const version = t.stored.versions.at(-1)!.version;
        const parsed = t.validators.get(version)!.safeParse(e.data);
        if (!parsed.success) throw new SchemaValidationError(e.type, version, index, issuesOf(parsed.error));
        return { ...e, data: parsed.data, schemaVersion: version };
      });
    },
  };

  /** Upcasts events written with older versions to the latest, on every read. */
  readonly upcaster: ReadInterceptor = {
    name: 'schema-upcaster',
    onRead: (event: RecordedEvent) => {
      const t = this.types.get(event.type);
      if (t === undefined || event.schemaVersion === undefined) return event;
      const latest = t.stored.versions.at(-1)!.version;
      let data = event.data;
      let v = event.schemaVersion;
      while (v < latest) {
        const up = t.upcasters.get(v);
        if (up === undefined) break;
        data = up(data);
        v++;
      }
      return v === event.schemaVersion ? event : { ...event, data, schemaVersion: v };
    },
  };

  /** Upcasts data of `fromVersion` to the latest version (for tests and tools). */
  upcastData(type: string, fromVersion: number, data: unknown): { data: unknown; version: number } {
    const e = this.upcaster.onRead({ stream: '-', version: 1, position: 1, type, id: '-', timestamp: 0, data, metadata: undefined, schemaVersion: fromVersion });
    return { data: e!.data, version: e!.schemaVersion ?? fromVersion };
  }

  /**
   * Loads and enforces the registry stored in a log's own store, if it has one. `EventLog.open`
   * calls it, so every process that opens the log (the CLI, tenants, S3 followers and writers)
   * validates appends against every stored schema, whether or not it registered them in code.
   * @internal
   */
  static async enforceStored(log: EventLog): Promise<void> {
    const first = await log.sublevel('schemas').keys({ limit: 1 }).all();
    if (first.length > 0) await SchemaRegistry.open(log);
  }

  /**
   * Removes the registry's interceptors from the log (tests and tools): appends are no longer
   * validated until the log is opened again, which loads the stored registry anew.
   */
  close(): void {
    this.remove();
    if (installed.get(this.log) === this) installed.delete(this.log);
  }

  /** The log this registry serves. */
  get eventLog(): EventLog {
    return this.log;
  }
}
