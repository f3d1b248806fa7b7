/**
 * `@strand/core`: the Strand event log.
 *
 * @packageDocumentation
 */
export { EventLog } from './log.js';
export type { AnyLevel, EventLogOptions } from './log.js';
export { openLog } from './open.js';
export type { OpenLogOptions } from './open.js';
export {
  CorruptionError,
  DuplicateEventIdError,
  EventTooLargeError,
  InvalidArgumentError,
  InvalidEventError,
  InvalidPatternError,
  InvalidStreamNameError,
  LogClosedError,
  LogLockedError,
  StorageUnavailableError,
  StrandError,
  StreamDeletedError,
  StreamTruncatedError,
  TimeoutError,
  WrongExpectedVersionError,
  isStrandError,
} from './errors.js';
export type { ErrorKind, ExpectedVersion, StrandErrorOptions } from './errors.js';
export type { VerifyReport } from './verify.js';
export { assertStreamName, compilePattern, isValidStreamName, MAX_SEGMENTS, MAX_SEGMENT_BYTES, MAX_STREAM_NAME_BYTES } from './names.js';
export { assertCount } from './validate.js';
export type { StreamPattern } from './names.js';
export { builtInCodecs, jsonCodec, msgpackCodec } from './codec.js';
export type { CodecContext, PayloadCodec } from './codec.js';
export { silentLogger } from './plugins.js';
export type { AppendContext, AppendInterceptor, CommitHook, CommitTx, Logger, ReadInterceptor, Sublevel, WorkKind, WorkMeter } from './plugins.js';
export type {
  AppendOptions,
  AppendResult,
  Durability,
  EventInput,
  HierarchyEntry,
  HierarchyPage,
  IfTruncated,
  ListChildrenOptions,
  MultiAppendResult,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamInfo,
  SubscribeOptions,
} from './types.js';
export {
  compatibilityProblems,
  exportParquet,
  IncompatibleSchemaError,
  SchemaConflictError,
  SchemaRegistry,
  SchemaValidationError,
  subsetProblems,
  UnknownEventTypeError,
} from './schema/index.js';
export type { Compatibility, EventData, EventType, ExportedFile, ExportOptions, ExportResult, JsonSchema, RegisterOptions, RegistryOptions, SchemaIssue, Upcaster } from './schema/index.js';
export * from './tenancy/index.js';
export * from './plugins/index.js';
