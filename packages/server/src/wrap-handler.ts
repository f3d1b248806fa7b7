/**
 * Replacing a connect-es handler of the router with a function around it.
 *
 * @module
 */
import type { UniversalHandler } from '@connectrpc/connect/protocol';

/**
 * `fn` in place of `h`, carrying `h`'s descriptor (path, method, service, protocols, HTTP methods,
 * content types): connect-es's router matches requests on those fields, so a wrapper without them
 * would never be called.
 */
export function wrapHandler(h: UniversalHandler, fn: (req: Parameters<UniversalHandler>[0]) => ReturnType<UniversalHandler>): UniversalHandler {
  return Object.assign(fn, {
    requestPath: h.requestPath,
    method: h.method,
    service: h.service,
    protocolNames: h.protocolNames,
    allowedMethods: h.allowedMethods,
    supportedContentType: h.supportedContentType,
  }) as UniversalHandler;
}
