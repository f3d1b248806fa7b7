/**
 * Principals, API keys and permissions. Design: docs/design/0008-tenancy.md, "Access control".
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { describeValue, InvalidArgumentError } from '../errors.js';
import { compilePattern } from '../names.js';

/**
 * What a grant allows on the streams its pattern matches:
 * - `read`: read streams, read the tenant's global order, stream info, list and count streams;
 * - `append`: append events;
 * - `subscribe`: follow (catch-up + live);
 * - `schemas`: register and bind event schemas (pattern must be `>`);
 * - `admin`: manage the tenant's principals and grants (pattern must be `>`).
 */
export type Permission = 'read' | 'append' | 'subscribe' | 'schemas' | 'admin';

/** Every {@link Permission}. */
export const PERMISSIONS: readonly Permission[] = ['read', 'append', 'subscribe', 'schemas', 'admin'];

/** One permission on the streams matching a pattern (see `compilePattern`: `*` one segment, `>` the rest). */
export interface Grant {
  /** What is allowed. */
  readonly permission: Permission;
  /** Streams it applies to, e.g. `orders/>` or `carts/*`. */
  readonly pattern: string;
}

/** A principal as stored: the key is kept only as a SHA-256 hash of its random 256-bit secret. */
export interface PrincipalRecord {
  /** Public id, also the first part of the API key. */
  readonly id: string;
  /** Tenant the principal belongs to. */
  readonly tenant: string;
  /** Hex SHA-256 of the key's secret. */
  readonly keyHash: string;
  /** Current grants. */
  readonly grants: readonly Grant[];
  /** Creation time, ms since epoch. */
  readonly created: number;
  /** Free text (who or what uses the key). */
  readonly label: string;
}

const KEY_PREFIX = 'strand_';

/** Validates and copies a grant; throws `STRAND_INVALID_ARGUMENT` or `STRAND_INVALID_PATTERN`. */
export function assertGrant(grant: unknown): Grant {
  if (grant === null || typeof grant !== 'object') throw new InvalidArgumentError(`A grant is { permission, pattern }; got ${describeValue(grant)}.`);
  const { permission, pattern } = grant as { permission: unknown; pattern: unknown };
  if (typeof permission !== 'string' || !(PERMISSIONS as readonly string[]).includes(permission)) {
    throw new InvalidArgumentError(`Unknown permission ${describeValue(permission)}; use one of ${PERMISSIONS.join(', ')}.`);
  }
  compilePattern(pattern);
  if ((permission === 'admin' || permission === 'schemas') && pattern !== '>') {
    throw new InvalidArgumentError(`The ${permission} permission is tenant-wide: grant it on the pattern ">".`);
  }
  return { permission: permission as Permission, pattern: pattern as string };
}

/** True if two grants are the same permission on the same pattern. */
export function sameGrant(a: Grant, b: Grant): boolean {
  return a.permission === b.permission && a.pattern === b.pattern;
}

const compiled = new Map<string, (s: string) => boolean>();
function matcher(pattern: string): (s: string) => boolean {
  let m = compiled.get(pattern);
  if (m === undefined) {
    m = compilePattern(pattern).matches;
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, m);
  }
  return m;
}

/** True if `grants` allow `permission` on `stream`. */
export function allows(grants: readonly Grant[], permission: Permission, stream: string): boolean {
  for (const g of grants) if (g.permission === permission && matcher(g.pattern)(stream)) return true;
  return false;
}

/** True if `grants` hold `permission` on at least one pattern. */
export function holds(grants: readonly Grant[], permission: Permission): boolean {
  return grants.some((g) => g.permission === permission);
}

/** A new API key: `strand_<id>_<secret>`, the secret 256 random bits, and the hash to store. */
export function newApiKey(): { id: string; apiKey: string; keyHash: string } {
  const id = randomBytes(12).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, apiKey: `${KEY_PREFIX}${id}_${secret}`, keyHash: hashSecret(secret) };
}

/** Splits an API key into id and secret, or `undefined` if it is not shaped like one. */
export function parseApiKey(apiKey: unknown): { id: string; secret: string } | undefined {
  if (typeof apiKey !== 'string' || apiKey.length > 200 || !apiKey.startsWith(KEY_PREFIX)) return undefined;
  const m = /^strand_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/.exec(apiKey);
  if (m === null) return undefined;
  return { id: m[1]!, secret: m[2]! };
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(secret: string, keyHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(keyHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
