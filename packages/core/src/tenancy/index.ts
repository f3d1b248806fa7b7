/**
 * `@strand/core/tenancy`: multi-tenancy (tenants as isolated namespaces, principals and grants,
 * quotas, metering and Prometheus metrics). A subpath of its own so that a plain event log does not
 * load it; its metrics need `prom-client`, an optional peer dependency of `@strand/core`: install
 * it beside core to use this entry. Design: docs/design/0008-tenancy.md.
 *
 * @packageDocumentation
 */
export { allows, PERMISSIONS } from './access.js';
export type { Grant, Permission, PrincipalRecord } from './access.js';
export { eventBytes } from './bytes.js';
export { TenantClient } from './client.js';
export { FairScheduler } from './fair-scheduler.js';
export type { TenantAppendOptions } from './client.js';
export { AccessDeniedError, QuotaExceededError, TenantExistsError, TenantNotFoundError, TenantSuspendedError } from './errors.js';
export type { QuotaName } from './errors.js';
export { TenantManager } from './manager.js';
export type { OpenTenant, TenantInfo, TenantManagerOptions, TenantPlugins, TenantStatus } from './manager.js';
export type { AppendTotals, ReadTotals, TenantUsage } from './metering.js';
export type { TenantQuotas } from './quotas.js';
export { assertTenantName, MAX_TENANT_NAME_BYTES, tenantSublevelName } from './tenant-name.js';
