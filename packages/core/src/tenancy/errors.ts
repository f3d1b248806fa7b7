/**
 * Errors of multi-tenancy: access control, quotas and the tenant registry.
 * Design: docs/design/0008-tenancy.md.
 *
 * @module
 */
import { StrandError } from '../errors.js';

/**
 * The call was not allowed: a wrong or revoked API key, a missing permission, or a resource that
 * does not exist. Code `STRAND_ACCESS_DENIED`. Deliberately one error for all of these, with the
 * same message and no details, so a denied caller learns nothing about what exists.
 */
export class AccessDeniedError extends StrandError {
  constructor() {
    super('STRAND_ACCESS_DENIED', 'denied', 'Access denied. Check the API key and ask a tenant admin for a grant covering this operation and stream.');
  }
}

/** Which per-tenant limit a {@link QuotaExceededError} names. */
export type QuotaName = 'appendEventsPerSecond' | 'appendBytesPerSecond' | 'storageBytes' | 'streams' | 'subscriptions';

/**
 * A per-tenant quota was hit; nothing of the call was done. Code `STRAND_QUOTA_EXCEEDED`;
 * `details.limit` names the quota, `details.max` its value.
 */
export class QuotaExceededError extends StrandError {
  /** The quota that was hit. */
  readonly limit: QuotaName;

  constructor(limit: QuotaName, max: number, retryAfterMs?: number) {
    const rate = limit === 'appendEventsPerSecond' || limit === 'appendBytesPerSecond';
    super(
      'STRAND_QUOTA_EXCEEDED',
      'limited',
      `Tenant quota ${limit} (${max}) exceeded; nothing was written. ${rate ? 'Retry later, or append with { wait: true } to be throttled instead' : 'Free some room or ask the operator to raise the quota'}.`,
      { details: retryAfterMs === undefined ? { limit, max } : { limit, max, retryAfterMs } },
    );
    this.limit = limit;
  }
}

/** A tenant with this name already exists. Code `STRAND_TENANT_EXISTS`. */
export class TenantExistsError extends StrandError {
  constructor(name: string) {
    super('STRAND_TENANT_EXISTS', 'conflict', `A tenant named ${JSON.stringify(name)} already exists; pick another name or use the existing tenant.`, { details: { name } });
  }
}

/** An admin call named a tenant that does not exist. Code `STRAND_TENANT_NOT_FOUND`. */
export class TenantNotFoundError extends StrandError {
  constructor(name: string) {
    super('STRAND_TENANT_NOT_FOUND', 'invalid', `No tenant named ${JSON.stringify(name)}; create it with createTenant() first (tenants.list() shows the existing ones).`, { details: { name } });
  }
}

/** The tenant is suspended: its data is kept but nothing may use it. Code `STRAND_TENANT_SUSPENDED`. */
export class TenantSuspendedError extends StrandError {
  constructor() {
    super('STRAND_TENANT_SUSPENDED', 'denied', 'This tenant is suspended; an operator must resume it before it can be used.');
  }
}
