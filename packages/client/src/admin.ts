/**
 * Tenant administration over the network (`connectAdmin({ url, adminKey })`): tenants, quotas,
 * usage, principals and grants, with the server's admin credential. Design:
 * docs/design/0013-server.md, "Tenant administration".
 *
 * @module
 */
import { type Client, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { InvalidArgumentError } from '@strand/core';
import type { Grant, TenantInfo, TenantQuotas, TenantUsage } from '@strand/core/tenancy';
import { adminWire, fromConnectError } from '@strand/protocol';
import { bearer, isHeaderSafeKey, parseServerUrl, SESSION_PINGS } from './transport.js';

type Rpc = Client<typeof adminWire.TenantAdminService>;

/** A principal as listed (its key is never shown again after creation). */
export interface RemotePrincipal {
  readonly id: string;
  readonly tenant: string;
  readonly label: string;
  readonly grants: readonly Grant[];
  readonly created: number;
}

function tenantOf(t: adminWire.Tenant | undefined): TenantInfo {
  if (t === undefined) throw new InvalidArgumentError('The server sent no tenant.');
  return { name: t.name, created: Number(t.created), status: t.status as TenantInfo['status'], quotas: JSON.parse(t.quotas || '{}') as TenantQuotas };
}

/**
 * A server's tenant registry, administered with its admin credential. Every method fails with the
 * same `StrandError` the `TenantManager` would throw in process (`STRAND_TENANT_EXISTS`,
 * `STRAND_TENANT_NOT_FOUND`...), `STRAND_UNAUTHENTICATED` for a key that is not the admin
 * credential, and `STRAND_NO_TENANTS` on a server that serves one log.
 */
export class StrandAdmin {
  private readonly rpc: Rpc;

  /** @internal */
  constructor(
    transport: Transport,
    private readonly onClose: () => void,
  ) {
    this.rpc = createClient(adminWire.TenantAdminService, transport);
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw fromConnectError(error);
    }
  }

  /** Every tenant, in name order. */
  async listTenants(): Promise<TenantInfo[]> {
    return (await this.call(() => this.rpc.listTenants({}))).tenants.map(tenantOf);
  }

  /** Creates a tenant (the server's default quotas unless given). */
  async createTenant(name: string, options: { quotas?: TenantQuotas } = {}): Promise<TenantInfo> {
    const quotas = options?.quotas === undefined ? '' : JSON.stringify(options.quotas);
    return tenantOf((await this.call(() => this.rpc.createTenant({ name, quotas }))).tenant);
  }

  /** Suspends a tenant: its principals' calls fail and its subscriptions end. */
  async suspendTenant(name: string): Promise<void> {
    await this.call(() => this.rpc.suspendTenant({ name }));
  }

  /** Lets a suspended tenant work again. */
  async resumeTenant(name: string): Promise<void> {
    await this.call(() => this.rpc.resumeTenant({ name }));
  }

  /** Deletes a tenant with all its data and principals. */
  async deleteTenant(name: string): Promise<void> {
    await this.call(() => this.rpc.deleteTenant({ name }));
  }

  /** Replaces a tenant's quotas (effective on the next call). */
  async setQuotas(name: string, quotas: TenantQuotas): Promise<TenantInfo> {
    return tenantOf((await this.call(() => this.rpc.setQuotas({ name, quotas: JSON.stringify(quotas) }))).tenant);
  }

  /** A tenant's usage and metering. */
  async usage(name: string): Promise<TenantUsage> {
    return JSON.parse((await this.call(() => this.rpc.getUsage({ name }))).usage) as TenantUsage;
  }

  /** Creates a principal of a tenant; its API key is in the answer only. */
  async createPrincipal(tenant: string, grants: readonly Grant[], label = ''): Promise<{ id: string; apiKey: string }> {
    if (!Array.isArray(grants)) throw new InvalidArgumentError('createPrincipal needs an array of grants such as [{ permission: "read", pattern: "orders/>" }].');
    const res = await this.call(() => this.rpc.createPrincipal({ tenant, grants: grants.map((g) => ({ permission: g?.permission, pattern: g?.pattern })), label }));
    return { id: res.id, apiKey: res.apiKey };
  }

  /** A tenant's principals (without keys). */
  async listPrincipals(tenant: string): Promise<RemotePrincipal[]> {
    const res = await this.call(() => this.rpc.listPrincipals({ tenant }));
    return res.principals.map((p) => ({ id: p.id, tenant: p.tenant, label: p.label, grants: p.grants.map((g) => ({ permission: g.permission as Grant['permission'], pattern: g.pattern })), created: Number(p.created) }));
  }

  /** Adds a grant to a principal of `tenant`. */
  async grant(tenant: string, principalId: string, grant: Grant): Promise<void> {
    await this.call(() => this.rpc.grant({ tenant, principalId, grant: { permission: grant?.permission, pattern: grant?.pattern } }));
  }

  /** Removes a grant from a principal of `tenant` (effective at once). */
  async revoke(tenant: string, principalId: string, grant: Grant): Promise<void> {
    await this.call(() => this.rpc.revoke({ tenant, principalId, grant: { permission: grant?.permission, pattern: grant?.pattern } }));
  }

  /** Deletes a principal of `tenant`: its key stops working at once. */
  async deletePrincipal(tenant: string, principalId: string): Promise<void> {
    await this.call(() => this.rpc.deletePrincipal({ tenant, principalId }));
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.onClose();
  }
}

/** Options of {@link connectAdmin}. */
export interface AdminClientOptions {
  /** The server's URL. */
  url: string;
  /** The server's admin credential (not a tenant's key). */
  adminKey: string;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
}

/**
 * Connects to a server's tenant administration with its admin credential.
 *
 * @example
 * ```ts
 * const admin = connectAdmin({ url: 'http://127.0.0.1:7070', adminKey: process.env.STRAND_ADMIN_KEY! });
 * await admin.createTenant('acme', { quotas: { streams: 100_000 } });
 * const { apiKey } = await admin.createPrincipal('acme', [{ permission: 'append', pattern: 'orders/>' }]);
 * ```
 */
export function connectAdmin(options: AdminClientOptions): StrandAdmin {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('connectAdmin needs { url, adminKey }.');
  const { origin } = parseServerUrl(options.url);
  const key = options.adminKey;
  if (!isHeaderSafeKey(key)) throw new InvalidArgumentError('connectAdmin needs { adminKey }: the admin key strand serve printed or was given.');
  const sessions = new Http2SessionManager(origin, SESSION_PINGS, options.ca === undefined ? {} : { ca: options.ca });
  const transport = createConnectTransport({ baseUrl: origin, httpVersion: '2', sessionManager: sessions, interceptors: [bearer(key)], useBinaryFormat: true, acceptCompression: [] });
  return new StrandAdmin(transport, () => sessions.abort());
}
