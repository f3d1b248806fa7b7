/**
 * Errors of the schema registry (codes listed in docs/errors.md).
 *
 * @module
 */
import { StrandError } from '../errors.js';

/** One zod issue, with the path of the offending value. */
export interface SchemaIssue {
  /** Path inside the event data, e.g. `items.0.price`. */
  readonly path: string;
  /** What is wrong. */
  readonly message: string;
}

/** Event data failed its registered schema; nothing was written. */
export class SchemaValidationError extends StrandError {
  /** Every issue with its path. */
  readonly issues: readonly SchemaIssue[];

  constructor(type: string, version: number, index: number, issues: readonly SchemaIssue[]) {
    super(
      'STRAND_SCHEMA_VALIDATION',
      'invalid',
      `Event ${index} (${type}) does not match schema v${version}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}. Nothing was written; fix the data or register a new schema version.`,
      { details: { type, version, index, issues } },
    );
    this.issues = issues;
  }
}

/** A stream bound to some event types received another type; nothing was written. */
export class UnknownEventTypeError extends StrandError {
  constructor(type: string, stream: string, allowed: readonly string[], pattern: string | undefined) {
    super(
      'STRAND_UNKNOWN_EVENT_TYPE',
      'invalid',
      pattern === undefined
        ? `Event type ${type} is not registered and the registry is strict. Register it with registry.register('${type}', 1, schema).`
        : `Stream "${stream}" (bound by "${pattern}") accepts only ${allowed.join(', ')}; got ${type}. Nothing was written.`,
      { details: { type, stream, allowed, pattern } },
    );
  }
}

/** A new schema version breaks the type's compatibility mode. */
export class IncompatibleSchemaError extends StrandError {
  /** Why, one line per problem. */
  readonly problems: readonly string[];

  constructor(type: string, version: number, mode: string, problems: readonly string[]) {
    super(
      'STRAND_INCOMPATIBLE_SCHEMA',
      'invalid',
      `${type} v${version} is not ${mode}-compatible with v${version - 1}: ${problems.join('; ')}. Make the change compatible (e.g. new fields optional), or register it with an upcaster from v${version - 1}.`,
      { details: { type, version, mode, problems } },
    );
    this.problems = problems;
  }
}

/** A version was registered before with a different schema, or out of order. */
export class SchemaConflictError extends StrandError {
  constructor(message: string, details: Record<string, unknown>) {
    super('STRAND_SCHEMA_CONFLICT', 'conflict', message, { details });
  }
}
