/**
 * `@strand/projections`: read models from the Strand log, as RxJS-friendly projections with
 * checkpoints, per-stream failure isolation, read-your-writes and blue/green rebuilds; consumer
 * groups that spread streams over many processes, in order per stream.
 *
 * @packageDocumentation
 */
export { listProjections } from './catalog.js';
export type { CatalogEntry, StoredProjection } from './catalog.js';
export { appendAndConfirm, confirmProjections } from './confirm.js';
export type { ConfirmOptions } from './confirm.js';
export { DynamicSubscription } from './dynamic.js';
export type { EngineOptions, ParkedStream } from './engine.js';
export { ProjectionParkedError, ProjectionStoppedError, ProjectionTimeoutError, StreamHistoryMissingError } from './errors.js';
export type { StoppedReason } from './errors.js';
export type { ArchiveReader, TruncatedStart } from './truncated.js';
export { attachInline, isInlineProjection } from './inline.js';
export type { InlineProjection } from './inline.js';
export { defineProjection } from './projection.js';
export type { CompiledProjection, EventHandler, EventSchemas, IndexDefinition, ProjectionDefinition, TypedHandlers, TypedProjectionDefinition } from './projection.js';
export type { ReadModelTx, ReadModelView } from './read-model.js';
export type { GroupStart } from './group/checkpoint-store.js';
export { ConsumerGroup } from './group/coordinator.js';
export type { GroupOptions, GroupStatus } from './group/coordinator.js';
export type { Delivery, DeliveryRef, GroupParkedStream } from './group/delivery.js';
export { GroupClosedError, GroupProtocolError, MemberExpiredError, StaleLeaseError } from './group/errors.js';
export type { ProtocolRange } from './group/errors.js';
export { listGroups, resumeParkedAtRest } from './group/admin.js';
export type { StoredGroup } from './group/admin.js';
export { adminGroup, connectGroup, MEMBER_PROTOCOL, serveGroup } from './group/net.js';
export type { AdminOp, GroupAddress, GroupServer, RemoteMember, ServeGroupOptions } from './group/net.js';
export type { AckEffects, GroupHandler, GroupMember, MemberSession } from './group/member.js';
export { defaultTuning as defaultGroupTuning } from './group/tuning.js';
export type { GroupTuning } from './group/tuning.js';
export { ProjectionRunner } from './runner.js';
export type { ProjectionStatus, RebuildProgress, RunnerOptions } from './runner.js';
