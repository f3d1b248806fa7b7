/**
 * Per-tenant quotas. Design: docs/design/0008-tenancy.md, "Quotas and fairness".
 *
 * @module
 */
import { describeValue, InvalidArgumentError } from '../errors.js';

/** Per-tenant limits; an absent limit is unlimited. */
export interface TenantQuotas {
  /** Events appended per second (token bucket, one second of burst). */
  appendEventsPerSecond?: number;
  /** Logical bytes (JSON data + metadata) appended per second. */
  appendBytesPerSecond?: number;
  /** Logical bytes appended over the tenant's life (truncation does not give them back). */
  storageBytes?: number;
  /** Streams created. */
  streams?: number;
  /** Subscriptions open at once. */
  subscriptions?: number;
}

const KEYS = ['appendEventsPerSecond', 'appendBytesPerSecond', 'storageBytes', 'streams', 'subscriptions'] as const;

/** Validates and copies quotas (positive numbers, known keys only). */
export function assertQuotas(quotas: unknown): TenantQuotas {
  if (quotas === undefined) return {};
  if (quotas === null || typeof quotas !== 'object') throw new InvalidArgumentError(`Quotas are an object such as { streams: 1000 }; got ${describeValue(quotas)}.`);
  const out: TenantQuotas = {};
  for (const [k, v] of Object.entries(quotas)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new InvalidArgumentError(`Unknown quota "${k}"; quotas are ${KEYS.join(', ')}.`);
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`Quota ${k} must be a positive number; got ${describeValue(v)}. Leave it out for no limit.`);
    out[k as (typeof KEYS)[number]] = v;
  }
  return out;
}
