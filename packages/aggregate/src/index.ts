/**
 * `@strand/aggregate`: model a domain as deciders on the Strand event log, with snapshots that
 * truncate history. The test harness is in `@strand/aggregate/testing`.
 *
 * @packageDocumentation
 */
export { defineAggregate, ensure, foldRecorded } from './define.js';
export type { Aggregate, AggregateDefinition, DecideContext, EvolveContext, Message, SchemaMap } from './define.js';
export { ConcurrencyRetriesExhaustedError, DomainError, InvalidCommandError, InvalidDecisionError, StateUnrecoverableError } from './errors.js';
export { AggregateRepository } from './repository.js';
export type { CommandResult, HandleOptions, Loaded, RepositoryOptions, RepositoryStats } from './repository.js';
export { SnapshotStore } from './snapshots.js';
export type { ArchiveHook, RetentionPolicy, SnapshotPolicy, SnapshotRecord } from './snapshots.js';
