/**
 * `@strand/aggregate`: model a domain as deciders on the Strand event log, with snapshots that
 * truncate history. The test harness is in `@strand/aggregate/testing`.
 *
 * @packageDocumentation
 */
export { defineAggregate, ensure, foldRecorded } from './define.js';
export type { Aggregate, AggregateDefinition, CommandOf, CommandsOf, DecideContext, EventOf, EventsOf, EvolveContext, Message, SchemaMap, StateOf, StateSchemaOf } from './define.js';
export { CommandIdReusedError, ConcurrencyRetriesExhaustedError, DomainError, InvalidCommandError, StoredEventInvalidError, InvalidDecisionError, StateUnrecoverableError } from './errors.js';
export { AggregateRepository } from './repository.js';
export type { CommandResult, HandleOptions, Loaded, LoadSource, RepositoryOf, RepositoryOptions, RepositoryStats } from './repository.js';
export { registerAggregate } from './schemas.js';
export type { RegisterAggregateOptions, RegisteredType } from './schemas.js';
export { backOff, backoffDelay, resolveBackoff } from './retry.js';
export type { Backoff, RetryOptions } from './retry.js';
export { SnapshotStore } from './snapshots.js';
export type { ArchiveHook, RetentionPolicy, SnapshotPolicy, SnapshotRecord, SnapshotSummary } from './snapshots.js';
export { UnitOfWork } from './uow.js';
export type { RunOptions, TxHandleOptions, UnitOfWorkOptions, UnitOfWorkResult, UnitOfWorkStream, UnitOfWorkTx } from './uow.js';
