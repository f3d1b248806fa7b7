/**
 * `strand.v1.InfoService`: who a key is (its tenant, principal and grants, so a tool such as the
 * console offers only the actions the key may take) and the store's head, size and the server's
 * version. Design: docs/design/0013-server.md, "Who am I".
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { infoWire } from '@strand/protocol';
import { type CallDeps, callPlumbing } from './calls.js';
import { SERVER_VERSION } from './metrics.js';

/** Registers the info service's handlers on a Connect router. */
export function registerInfoService(router: ConnectRouter, deps: CallDeps): void {
  const { unary } = callPlumbing(deps);
  router.service(infoWire.InfoService, {
    // Any authenticated key may ask: it learns nothing but its own grants.
    whoAmI: unary(async (_req: infoWire.WhoAmIRequest, scope): Promise<MessageInitShape<typeof infoWire.WhoAmIResponseSchema>> => ({
      tenant: scope.tenant,
      principal: scope.principal,
      grants: scope.grants().map((g) => ({ permission: g.permission, pattern: g.pattern })),
    })),

    getStoreInfo: unary(async (_req: infoWire.GetStoreInfoRequest, scope): Promise<MessageInitShape<typeof infoWire.GetStoreInfoResponseSchema>> => {
      scope.checkHolds('read', 'subscribe');
      const [log, size] = await Promise.all([scope.log(), scope.storeSize()]);
      return { serverVersion: SERVER_VERSION, position: BigInt(log.position), ...(size === undefined ? {} : { sizeBytes: BigInt(size.bytes), sizeKind: size.kind }) };
    }),
  });
}
