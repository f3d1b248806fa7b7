/**
 * `@strand/client`: a remote Strand server as an `EventStore` (`connect({ url, apiKey })`).
 *
 * @packageDocumentation
 */
export type { JoinGroupOptions, RemoteDelivery, RemoteGroupHandler, RemoteGroupMember } from './group.js';
export { connect, connectAdmin, StrandClient } from './client.js';
export type { AdminClientOptions, ClientOptions, ReconnectOptions, RemoteAppendOptions } from './client.js';
export { StrandAdmin } from './admin.js';
export type { RemotePrincipal } from './admin.js';
export { RemoteProjections } from './projections.js';
export type { RemoteParkedStream, RemoteProjectionStatus } from './projections.js';
export { LimitExceededError, NoTenantsError, ProjectionNotFoundError, ServerUnavailableError, SubscriptionEndedError, UnauthenticatedError } from '@strand/protocol';
export { RemoteSchemaRegistry } from './schemas.js';
export type { RegisteredSchema } from './schemas.js';
export { RemoteSnapshots } from './snapshots.js';
export type { RemoteSnapshot } from './snapshots.js';
