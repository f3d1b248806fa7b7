/**
 * The server's schema registry seen from a client: a {@link SchemaStore}, like the embedded
 * `SchemaRegistry`, so code that registers and binds its event types runs unchanged against a
 * remote log. Zod schemas travel as their JSON Schema; the server stores it as sent and validates
 * every append with it. Design: docs/design/0013-server.md, "Schema registry".
 *
 * @module
 */
import type { Client } from '@connectrpc/connect';
import { type Compatibility, type EventType, InvalidArgumentError, type JsonSchema, type RegisterOptions, type SchemaStore } from '@strand/core';
import type { schemaWire } from '@strand/protocol';
import { z } from 'zod';

type Rpc = Client<typeof schemaWire.SchemaRegistryService>;

/** One registered type as {@link RemoteSchemaRegistry.list} answers. */
export interface RegisteredSchema {
  type: string;
  compatibility: Compatibility;
  versions: Array<{ version: number; jsonSchema: JsonSchema; registeredAt: number }>;
}

function fromWire(t: schemaWire.SchemaType): RegisteredSchema {
  return {
    type: t.type,
    compatibility: t.compatibility as Compatibility,
    versions: t.versions.map((v) => ({ version: v.version, jsonSchema: JSON.parse(v.jsonSchema) as JsonSchema, registeredAt: Number(v.registeredAt) })),
  };
}

/**
 * The schema registry of the server's log (the caller's tenant). `list`, `latest` and `jsonSchema`
 * answer from what was loaded when it was opened (and what this client registered since), as the
 * embedded registry answers from what it loaded; {@link RemoteSchemaRegistry.refresh} reloads.
 * Upcasters are code: they run in the process that opens the log (the server), so `register`
 * refuses an `upcast` option.
 */
export class RemoteSchemaRegistry implements SchemaStore {
  private types = new Map<string, RegisteredSchema>();

  /** @internal */
  constructor(
    private readonly rpc: Rpc,
    private readonly call: <T>(fn: () => Promise<T>, retry: boolean) => Promise<T>,
  ) {}

  /** Reloads every registered type from the server. */
  async refresh(): Promise<void> {
    const res = await this.call(() => this.rpc.listSchemas({}), true);
    this.types = new Map(res.types.map((t) => [t.type, fromWire(t)]));
  }

  /**
   * Registers version `version` of an event type (its zod schema is sent as JSON Schema). Same
   * rules and errors as the embedded registry: version 1 first, then each next one checked against
   * the previous under the type's compatibility mode; the same version with the same schema again
   * is a no-op.
   */
  async register<T extends string, S extends z.ZodType>(type: T, version: number, schema: S, options: RegisterOptions = {}): Promise<EventType<T, z.output<S>>> {
    if (schema === null || typeof schema !== 'object' || typeof (schema as z.ZodType).safeParse !== 'function') throw new InvalidArgumentError(`The schema of ${String(type)} must be a zod schema.`);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('register options must be an object.');
    if (options.upcast !== undefined) {
      throw new InvalidArgumentError(`Upcasters run where the log is opened: register the upcaster of ${String(type)} v${version} in the server process (SchemaRegistry.upcast), not through a client.`);
    }
    if (!Number.isSafeInteger(version) || version < 1 || version > 0xffffffff) throw new InvalidArgumentError(`A schema version is an integer >= 1; got ${String(version)}.`);
    let json: JsonSchema;
    try {
      json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }) as JsonSchema;
    } catch (cause) {
      throw new InvalidArgumentError(`The schema of ${type} v${version} cannot be stored as JSON Schema (${String((cause as Error).message)}); use JSON-representable types (dates as ISO strings).`);
    }
    delete json.$schema;
    const compatibility = options.compatibility ?? '';
    const res = await this.call(() => this.rpc.registerSchema({ type, version, jsonSchema: JSON.stringify(json), compatibility }), true);
    const got = await this.call(() => this.rpc.getSchema({ type, version: 0 }), true);
    if (got.type !== undefined) this.types.set(type, fromWire(got.type));
    return { type, version: res.version, event: (data, extra = {}) => ({ ...extra, type, data }) };
  }

  /** Binds a stream pattern to event types: appends to matching streams accept only those. */
  async bind(pattern: string, types: readonly string[]): Promise<void> {
    if (!Array.isArray(types)) throw new InvalidArgumentError('bind needs an array of event types.');
    await this.call(() => this.rpc.bindSchema({ pattern, types: [...types] }), true);
  }

  /** Every binding on the server now: a stream pattern and the event types its streams accept, in pattern order. */
  async bindings(): Promise<Array<{ pattern: string; types: string[] }>> {
    const res = await this.call(() => this.rpc.listBindings({}), true);
    return res.bindings.map((b) => ({ pattern: b.pattern, types: [...b.types] }));
  }

  /** Latest version of a type (0 if unknown). */
  latest(type: string): number {
    return this.types.get(type)?.versions.at(-1)?.version ?? 0;
  }

  /** Every registered type with its versions, compatibility and JSON Schemas. */
  list(): RegisteredSchema[] {
    return [...this.types.values()];
  }

  /** The JSON Schema of a type's version (latest by default). */
  jsonSchema(type: string, version?: number): JsonSchema | undefined {
    const t = this.types.get(type);
    return (version === undefined ? t?.versions.at(-1) : t?.versions.find((v) => v.version === version))?.jsonSchema;
  }
}
