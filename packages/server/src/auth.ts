/**
 * Who is calling: `Authorization: Bearer <api key>` to a {@link Scope} (a tenant's log seen
 * through one principal's grants). Design: docs/design/0013-server.md, "Security".
 *
 * @module
 */
import crypto, { randomBytes, timingSafeEqual } from 'node:crypto';
import { type EventLog, type EventStore, isStrandError, type JsonTextEvent, SchemaRegistry, type SubscribeOptions } from '@strand/core';
import { AccessDeniedError, allows, type Grant, PERMISSIONS, type Permission, type TenantClient, type TenantManager } from '@strand/core/tenancy';
import { UnauthenticatedError } from '@strand/protocol';

/** The data operations a scope runs, access-checked (and metered, in a tenant). */
export type ScopedStore = Pick<EventStore, 'append' | 'appendMulti' | 'readStream' | 'readAll' | 'follow' | 'streamInfo'> & {
  /** `follow` with payloads as JSON text, for subscriptions (`EventLog.followJson`, `TenantClient.followJson`). */
  followJson(pattern: string, options?: SubscribeOptions): AsyncIterable<JsonTextEvent>;
  /** Streams at or below a prefix that the principal may read (`EventLog.countStreams`, `TenantClient.countStreams`). */
  countStreams(prefix?: string): Promise<number>;
};

/** What one authenticated call may do, on which log. */
export interface Scope {
  /** The tenant (`default` for a single-log server). */
  readonly tenant: string;
  /** The principal's id. */
  readonly principal: string;
  /** The tenant's log, for the operations the scope checks itself. */
  log(): Promise<EventLog>;
  /** The tenant's schema registry (the one enforced on its appends). */
  schemas(): Promise<SchemaRegistry>;
  /** Access-checked data operations. */
  readonly store: ScopedStore;
  /** Throws `STRAND_ACCESS_DENIED` unless the principal holds `permission` on `stream`. */
  check(permission: Permission, stream: string): void;
  /** True if the principal holds `permission` on `stream` (for filtering what a listing shows). */
  may(permission: Permission, stream: string): boolean;
  /** Throws `STRAND_ACCESS_DENIED` unless the principal holds `permission` on some pattern. */
  checkHolds(...permissions: Permission[]): void;
  /** True if the principal may `read` `name` or some stream below it (hierarchy listings). */
  mayBrowse(name: string): boolean;
  /** The principal's grants now (a single log's key: every permission on `>`). */
  grants(): readonly Grant[];
  /**
   * The size of the scope's store, when known, and what was counted: `disk` (the files of the
   * store's directory) or `logical` (a tenant's stored event bytes, its storageBytes quota's count).
   */
  storeSize(): Promise<{ readonly bytes: number; readonly kind: 'disk' | 'logical' } | undefined>;
}

const EVERYTHING: readonly Grant[] = Object.freeze(PERMISSIONS.map((permission) => Object.freeze({ permission, pattern: '>' })));

/** Turns an API key into a scope; throws `STRAND_UNAUTHENTICATED` for anything else. */
export interface Authenticator {
  authenticate(apiKey: string | undefined): Scope;
  /** True if `apiKey` is the admin credential. */
  isAdmin(apiKey: string | undefined): boolean;
}

// One-shot `crypto.hash` (Node >= 20.12) takes about half the time of a Hash object per call (measured 2.6 vs 5.0 µs); older Node falls back.
const hash: (s: string) => Buffer =
  typeof crypto.hash === 'function' ? (s) => crypto.hash('sha256', s, 'buffer') : (s) => crypto.createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of a presented key with one of several known keys (by their hashes). */
function matchesAny(presented: string | undefined, hashes: readonly Buffer[]): boolean {
  const h = hash(presented ?? '');
  let ok = false;
  // Every hash is compared, so timing does not tell which (or whether one) matched early.
  for (const k of hashes) ok = timingSafeEqual(h, k) || ok;
  return ok && presented !== undefined && presented !== '';
}

/** A new random API key for a single-log server (`strand_sk_` + 256 random bits). */
export function newServerKey(): string {
  return `strand_sk_${randomBytes(32).toString('base64url')}`;
}

/** The bearer token of an Authorization header value, if it is one. */
export function bearer(header: string | null | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header.trim());
  return m?.[1];
}

const registries = new WeakMap<EventLog, Promise<SchemaRegistry>>();

/** The schema registry of a log, opened once per log by this server. */
function registryOf(log: EventLog): Promise<SchemaRegistry> {
  let r = registries.get(log);
  if (r === undefined) registries.set(log, (r = SchemaRegistry.open(log)));
  return r;
}

/** A single log behind one or more API keys, each with every permission (the `default` tenant). */
export class SingleLogAuthenticator implements Authenticator {
  private readonly keys: Buffer[];
  private readonly adminKeys: Buffer[];
  private readonly scope: Scope;

  constructor(log: EventLog, apiKeys: readonly string[], adminKeys: readonly string[], storeSize: () => Promise<number | undefined> = async () => undefined) {
    this.keys = apiKeys.map(hash);
    this.adminKeys = adminKeys.map(hash);
    this.scope = {
      tenant: 'default',
      principal: 'default',
      log: async () => log,
      schemas: () => registryOf(log),
      store: log,
      check: () => {},
      may: () => true,
      checkHolds: () => {},
      mayBrowse: () => true,
      grants: () => EVERYTHING,
      storeSize: async () => {
        const bytes = await storeSize();
        return bytes === undefined ? undefined : { bytes, kind: 'disk' };
      },
    };
  }

  authenticate(apiKey: string | undefined): Scope {
    if (!matchesAny(apiKey, this.keys)) throw new UnauthenticatedError();
    return this.scope;
  }

  isAdmin(apiKey: string | undefined): boolean {
    return this.adminKeys.length > 0 && matchesAny(apiKey, this.adminKeys);
  }
}

/** Could `pattern` match a stream strictly below the hierarchy name `name`? */
export function couldMatchBelow(pattern: string, name: string): boolean {
  const p = pattern.split('/');
  const n = name === '' ? [] : name.split('/');
  for (let i = 0; i < n.length; i++) {
    const seg = p[i];
    if (seg === undefined) return false;
    if (seg === '>') return true;
    if (seg !== '*' && seg !== n[i]) return false;
  }
  return p.length > n.length;
}

/** Tenants from a {@link TenantManager}: a key maps to its principal and tenant. */
export class TenantAuthenticator implements Authenticator {
  private readonly adminKeys: Buffer[];

  constructor(
    private readonly tenants: TenantManager,
    adminKeys: readonly string[],
  ) {
    this.adminKeys = adminKeys.map(hash);
  }

  authenticate(apiKey: string | undefined): Scope {
    let client: TenantClient;
    try {
      client = this.tenants.authenticate(apiKey ?? '');
    } catch (error) {
      if (isStrandError(error, 'STRAND_ACCESS_DENIED')) throw new UnauthenticatedError();
      throw error;
    }
    const grants = (): readonly Grant[] => client.grants();
    return {
      tenant: client.tenant,
      principal: client.principalId,
      log: async () => (await this.tenants.tenant(client.tenant)).log,
      schemas: async () => (await this.tenants.tenant(client.tenant)).schemas,
      store: client as unknown as ScopedStore,
      check: (permission, stream) => {
        if (!allows(grants(), permission, stream)) throw new AccessDeniedError();
      },
      may: (permission, stream) => allows(grants(), permission, stream),
      checkHolds: (...permissions) => {
        const g = grants();
        if (!g.some((x) => permissions.includes(x.permission))) throw new AccessDeniedError();
      },
      mayBrowse: (name) => grants().some((g) => g.permission === 'read' && (allows([g], 'read', name) || couldMatchBelow(g.pattern, name))),
      grants: () => grants().map((g) => ({ permission: g.permission, pattern: g.pattern })),
      storeSize: async () => ({ bytes: (await this.tenants.usage(client.tenant)).storageBytes, kind: 'logical' }),
    };
  }

  isAdmin(apiKey: string | undefined): boolean {
    return this.adminKeys.length > 0 && matchesAny(apiKey, this.adminKeys);
  }
}
