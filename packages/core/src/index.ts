/**
 * `@strand/core`: the Strand event log. This entry loads only what an event log uses; tenancy and
 * metrics (`@strand/core/tenancy`), Parquet export (`@strand/core/export`), the tsyringe
 * composition root (`@strand/core/di`) and the conformance suite (`@strand/core/testing`) are
 * subpath exports, loaded only by the apps that import them.
 *
 * @packageDocumentation
 */
export { EventLog } from './log.js';
export type { AnyLevel, EventLogOptions } from './log.js';
export { openLog } from './open.js';
export { isEventStore } from './store.js';
export type { EventStore } from './store.js';
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
  LogNotFoundError,
  StorageUnavailableError,
  CommitUnknownError,
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
export { observeIterator } from './observe.js';
export type { ObserveIteratorOptions } from './observe.js';
export { builtInCodecs, jsonCodec, msgpackCodec } from './codec.js';
export type { CodecContext, PayloadCodec } from './codec.js';
export { consoleLogger, createConsoleLogger, silentLogger } from './plugins.js';
export type { AppendContext, AppendInterceptor, CommitHook, CommitTx, Logger, LogLevel, ReadInterceptor, Sublevel, WorkKind, WorkMeter } from './plugins.js';
export type {
  AppendOptions,
  AppendResult,
  Durability,
  EventInput,
  HierarchyEntry,
  HierarchyPage,
  IfTruncated,
  JsonTextEvent,
  ListChildrenOptions,
  MultiAppendResult,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamInfo,
  SubscribeOptions,
} from './types.js';
export { compatibilityProblems, subsetProblems } from './schema/compat.js';
export type { Compatibility, JsonSchema } from './schema/compat.js';
export { IncompatibleSchemaError, SchemaConflictError, SchemaValidationError, UnknownEventTypeError } from './schema/errors.js';
export type { SchemaIssue } from './schema/errors.js';
export { SchemaRegistry } from './schema/registry.js';
export type { EventData, EventType, RegisterOptions, RegistryOptions, SchemaStore, Upcaster } from './schema/registry.js';
export { Encryption, isEncryptedPayload, isRedactedPayload } from './plugins/encryption.js';
export type { EncryptedPayload, EncryptionOptions, RedactedPayload } from './plugins/encryption.js';
export { KeyDestroyedError, LevelKeyProvider, MemoryKeyProvider } from './plugins/key-provider.js';
export type { KeyProvider } from './plugins/key-provider.js';
export { RateLimiter, TokenBucket } from './plugins/rate-limit.js';
export type { RateLimits } from './plugins/rate-limit.js';
export { QuotaExceededError } from './tenancy/errors.js';
export type { QuotaName } from './tenancy/errors.js';
