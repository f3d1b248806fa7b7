/**
 * `strand.v1.SchemaRegistryService`: the caller's schema registry (the one its appends are
 * validated against): register a version as JSON Schema, list, get, bind. Registering and binding
 * need the `schemas` permission, listing (types and bindings) and getting `read`. Design: docs/design/0013-server.md,
 * "Schema registry".
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { type Compatibility, InvalidArgumentError, type JsonSchema } from '@strand/core';
import { parseJsonText, schemaWire } from '@strand/protocol';
import { type CallDeps, callPlumbing } from './calls.js';

type WireType = MessageInitShape<typeof schemaWire.SchemaTypeSchema>;

function toWireType(t: { type: string; compatibility: string; versions: ReadonlyArray<{ version: number; jsonSchema: unknown; registeredAt: number }> }): WireType {
  return {
    type: t.type,
    compatibility: t.compatibility,
    versions: t.versions.map((v) => ({ version: v.version, jsonSchema: JSON.stringify(v.jsonSchema), registeredAt: BigInt(v.registeredAt) })),
  };
}

const MODES: readonly string[] = ['backward', 'forward', 'full', 'none'];

/** Registers the schema registry's handlers on a Connect router. */
export function registerSchemaService(router: ConnectRouter, deps: CallDeps): void {
  const { unary } = callPlumbing(deps);
  router.service(schemaWire.SchemaRegistryService, {
    registerSchema: unary(async (req: schemaWire.RegisterSchemaRequest, scope): Promise<MessageInitShape<typeof schemaWire.RegisterSchemaResponseSchema>> => {
      scope.checkHolds('schemas');
      if (req.compatibility !== '' && !MODES.includes(req.compatibility)) throw new InvalidArgumentError(`compatibility must be backward, forward, full or none; got ${JSON.stringify(req.compatibility)}.`);
      const json = parseJsonText(req.jsonSchema, 'json_schema');
      if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new InvalidArgumentError('json_schema must be a JSON Schema object as JSON text.');
      const registry = await scope.schemas();
      const t = await registry.registerJsonSchema(req.type, req.version, json as JsonSchema, req.compatibility === '' ? {} : { compatibility: req.compatibility as Compatibility });
      return { version: t.version };
    }),

    listSchemas: unary(async (_req: schemaWire.ListSchemasRequest, scope): Promise<MessageInitShape<typeof schemaWire.ListSchemasResponseSchema>> => {
      scope.checkHolds('read', 'schemas');
      return { types: (await scope.schemas()).list().map(toWireType) };
    }),

    getSchema: unary(async (req: schemaWire.GetSchemaRequest, scope): Promise<MessageInitShape<typeof schemaWire.GetSchemaResponseSchema>> => {
      scope.checkHolds('read', 'schemas');
      const t = (await scope.schemas()).list().find((x) => x.type === req.type);
      if (t === undefined) return {};
      const versions = req.version === 0 ? t.versions : t.versions.filter((v) => v.version === req.version);
      if (versions.length === 0) return {};
      return { type: toWireType({ ...t, versions }) };
    }),

    bindSchema: unary(async (req: schemaWire.BindSchemaRequest, scope) => {
      scope.checkHolds('schemas');
      await (await scope.schemas()).bind(req.pattern, req.types);
      return {};
    }),

    listBindings: unary(async (_req: schemaWire.ListBindingsRequest, scope): Promise<MessageInitShape<typeof schemaWire.ListBindingsResponseSchema>> => {
      scope.checkHolds('read', 'schemas');
      return { bindings: (await scope.schemas()).listBindings() };
    }),
  });
}
