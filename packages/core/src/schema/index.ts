/**
 * Schemas as part of the log: registry, compatibility checks, upcasting, columnar export.
 *
 * @module
 */
export { compatibilityProblems, subsetProblems } from './compat.js';
export type { Compatibility, JsonSchema } from './compat.js';
export { IncompatibleSchemaError, SchemaConflictError, SchemaValidationError, UnknownEventTypeError } from './errors.js';
export type { SchemaIssue } from './errors.js';
export { SchemaRegistry } from './registry.js';
export type { EventData, EventType, RegisterOptions, RegistryOptions, Upcaster } from './registry.js';
export { exportParquet } from './export.js';
export type { ExportedFile, ExportOptions, ExportResult } from './export.js';
