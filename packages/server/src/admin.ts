/**
 * `strand.v1.TenantAdminService`: tenants, quotas, usage, principals and grants, under the admin
 * credential only (a tenant's key, however privileged in its tenant, is `UNAUTHENTICATED` here).
 * Design: docs/design/0013-server.md, "Tenant administration".
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { InvalidArgumentError } from '@strand/core';
import type { Grant, TenantInfo, TenantManager, TenantQuotas } from '@strand/core/tenancy';
import { adminWire, NoTenantsError, parseJsonText, toConnectError, UnauthenticatedError } from '@strand/protocol';
import { type Authenticator, bearer } from './auth.js';
import { authorizationOf, deadlineOf, withDeadline } from './calls.js';
import type { Limits } from './limits.js';

/** What the admin service needs from the server. */
export interface AdminDeps {
  readonly auth: Authenticator;
  readonly tenants: TenantManager | undefined;
  readonly limits: Limits;
}

function toWireTenant(t: TenantInfo): MessageInitShape<typeof adminWire.TenantSchema> {
  return { name: t.name, created: BigInt(t.created), status: t.status, quotas: JSON.stringify(t.quotas) };
}

function quotasOf(text: string): TenantQuotas | undefined {
  const q = parseJsonText(text, 'quotas');
  if (q === undefined) return undefined;
  if (q === null || typeof q !== 'object' || Array.isArray(q)) throw new InvalidArgumentError('quotas must be a JSON object text such as {"streams":1000}.');
  return q as TenantQuotas;
}

function grantOf(g: adminWire.Grant | undefined): Grant {
  if (g === undefined) throw new InvalidArgumentError('A grant needs { permission, pattern }.');
  return { permission: g.permission as Grant['permission'], pattern: g.pattern };
}

/** Registers the tenant administration handlers on a Connect router. */
export function registerAdminService(router: ConnectRouter, deps: AdminDeps): void {
  function admin<I, O>(fn: (req: I, tenants: TenantManager) => Promise<O>): (req: I, ctx: HandlerContext) => Promise<O> {
    return async (req, ctx) => {
      try {
        if (!deps.auth.isAdmin(bearer(authorizationOf(ctx)))) throw new UnauthenticatedError();
        if (deps.tenants === undefined) throw new NoTenantsError();
        return await withDeadline(fn(req, deps.tenants), deadlineOf(ctx, deps.limits.requestTimeoutMs));
      } catch (error) {
        throw toConnectError(error);
      }
    };
  }

  router.service(adminWire.TenantAdminService, {
    listTenants: admin(async (_req: adminWire.ListTenantsRequest, t) => ({ tenants: t.list().map(toWireTenant) })),
    createTenant: admin(async (req: adminWire.CreateTenantRequest, t) => {
      const quotas = quotasOf(req.quotas);
      return { tenant: toWireTenant(await t.createTenant(req.name, quotas === undefined ? {} : { quotas })) };
    }),
    suspendTenant: admin(async (req: adminWire.SuspendTenantRequest, t) => {
      await t.suspend(req.name);
      return {};
    }),
    resumeTenant: admin(async (req: adminWire.ResumeTenantRequest, t) => {
      await t.resume(req.name);
      return {};
    }),
    deleteTenant: admin(async (req: adminWire.DeleteTenantRequest, t) => {
      await t.deleteTenant(req.name);
      return {};
    }),
    setQuotas: admin(async (req: adminWire.SetQuotasRequest, t) => ({ tenant: toWireTenant(await t.setQuotas(req.name, quotasOf(req.quotas) ?? {})) })),
    getUsage: admin(async (req: adminWire.GetUsageRequest, t) => ({ usage: JSON.stringify(await t.usage(req.name)) })),
    createPrincipal: admin(async (req: adminWire.CreatePrincipalRequest, t) => {
      const p = await t.createPrincipal(req.tenant, req.grants.map(grantOf), req.label);
      return { id: p.id, apiKey: p.apiKey };
    }),
    listPrincipals: admin(async (req: adminWire.ListPrincipalsRequest, t) => ({
      principals: t.listPrincipals(req.tenant).map((p) => ({ id: p.id, tenant: p.tenant, label: p.label, grants: p.grants.map((g) => ({ ...g })), created: BigInt(p.created) })),
    })),
    grant: admin(async (req: adminWire.GrantRequest, t) => {
      await t.grant(req.principalId, grantOf(req.grant), req.tenant === '' ? undefined : req.tenant);
      return {};
    }),
    revoke: admin(async (req: adminWire.RevokeRequest, t) => {
      await t.revoke(req.principalId, grantOf(req.grant), req.tenant === '' ? undefined : req.tenant);
      return {};
    }),
    deletePrincipal: admin(async (req: adminWire.DeletePrincipalRequest, t) => {
      await t.deletePrincipal(req.principalId, req.tenant === '' ? undefined : req.tenant);
      return {};
    }),
  });
}
