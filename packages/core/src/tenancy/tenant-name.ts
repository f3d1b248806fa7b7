/**
 * Tenant names and how they map to key prefixes. Design: docs/design/0008-tenancy.md, "Key layout".
 *
 * @module
 */
import { describeValue, InvalidArgumentError } from '../errors.js';

/** Longest tenant name, in UTF-8 bytes. */
export const MAX_TENANT_NAME_BYTES = 128;

/**
 * Checks a tenant name: any well-formed Unicode string of 1 to 128 UTF-8 bytes. Names are opaque,
 * separators and control characters included, because they never reach a key unencoded.
 */
export function assertTenantName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(`A tenant name is a non-empty string; got ${describeValue(name)}.`, { name: describeValue(name) });
  }
  if (Buffer.from(name, 'utf8').toString('utf8') !== name) throw new InvalidArgumentError('A tenant name must be well-formed Unicode (no lone surrogates); normalise it first.');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_TENANT_NAME_BYTES) throw new InvalidArgumentError(`A tenant name is at most ${MAX_TENANT_NAME_BYTES} UTF-8 bytes; got ${bytes}. Use a shorter id.`);
}

/**
 * The sublevel name holding a tenant's data: `t` + hex of its UTF-8 bytes. Hex is injective and
 * never contains abstract-level's `!` separator, and the separator that closes every sublevel
 * prefix makes the prefixes prefix-free: tenant `a` (`!t61!`) can never see keys of `ab`
 * (`!t6162!`), whatever bytes the names hold.
 */
export function tenantSublevelName(name: string): string {
  return `t${Buffer.from(name, 'utf8').toString('hex')}`;
}
