/**
 * `@strand/client`: a remote Strand server as an `EventStore` (`connect({ url, apiKey })`).
 *
 * @packageDocumentation
 */
export { connect, StrandClient } from './client.js';
export type { ClientOptions, ReconnectOptions } from './client.js';
export type { JoinGroupOptions, RemoteDelivery, RemoteGroupHandler, RemoteGroupMember } from './group.js';
export { LimitExceededError, ServerUnavailableError, SubscriptionEndedError, UnauthenticatedError } from '@strand/protocol';
export { RemoteSchemaRegistry } from './schemas.js';
export type { RegisteredSchema } from './schemas.js';
