/**
 * `@strand/server`: Strand as a network service (`strand serve`, or embedded with
 * `createServer({ log | tenants }).listen()`). Design: docs/design/0013-server.md.
 *
 * @packageDocumentation
 */
export { createServer, StrandServer } from './server.js';
export type { HttpRequest, HttpResponse, ListenOptions, ServerOptions } from './server.js';
export type { ServerLimits } from './limits.js';
export type { HostedGroupOptions } from './groups.js';
export type { WaitForProjections } from './service.js';
export type { HostedParkedStream, HostedProjection, HostedProjections, HostedProjectionStatus } from './projections.js';
export { LimitExceededError, NoTenantsError, ProjectionNotFoundError, ServerUnavailableError, SubscriptionEndedError, UnauthenticatedError } from '@strand/protocol';
