/**
 * A request body that does not decode is the caller's mistake: `INVALID_ARGUMENT` with
 * `STRAND_INVALID_ARGUMENT` in its details, never `INTERNAL`. connect-es answers a binary protobuf
 * body it cannot parse with `internal` ("parse binary: ..."), before any interceptor runs, so the
 * server rewrites those answers of its unary handlers (Connect protocol, and gRPC / gRPC-Web where
 * the status is known when the handler returns). Design: docs/design/0013-server.md, "Error mapping".
 *
 * @module
 */
import { Code, type ConnectError } from '@connectrpc/connect';
import { createAsyncIterable, readAllBytes, type UniversalHandler, type UniversalServerResponse } from '@connectrpc/connect/protocol';
import { errorToJsonBytes } from '@connectrpc/connect/protocol-connect';
import { InvalidArgumentError } from '@strand/core';
import { toConnectError } from '@strand/protocol';
import { wrapHandler } from './wrap-handler.js';

const PARSE = /^parse binary: /;

/** The INVALID_ARGUMENT error of a body that does not parse (`message`: connect-es's "parse binary: ..."). */
export function malformedBody(message: string): ConnectError {
  return toConnectError(new InvalidArgumentError(`Malformed request: the body is not a valid protobuf message of this method (${message.replace(PARSE, '').slice(0, 200)}).`));
}

async function rewrite(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  // gRPC and gRPC-Web: the status in (trailers-only) headers or the trailer.
  for (const h of [res.header, res.trailer]) {
    if (h?.get('grpc-status') === String(Code.Internal) && PARSE.test(decodeURIComponent(h.get('grpc-message') ?? ''))) {
      const e = malformedBody(decodeURIComponent(h.get('grpc-message') ?? ''));
      h.set('grpc-status', String(Code.InvalidArgument));
      h.set('grpc-message', encodeURIComponent(e.rawMessage));
    }
  }
  // Connect unary: a JSON error body with status 500.
  if (res.status !== 500 || res.body === undefined || !/^application\/json/.test(res.header?.get('content-type') ?? '') || res.header?.has('content-encoding')) return res;
  const bytes = res.body instanceof Uint8Array ? res.body : await readAllBytes(res.body as AsyncIterable<Uint8Array>, 1 << 20);
  let parsed: { code?: string; message?: string } | undefined;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes)) as { code?: string; message?: string };
  } catch {
    parsed = undefined;
  }
  if (parsed?.code !== 'internal' || !PARSE.test(parsed.message ?? '')) return { ...res, body: createAsyncIterable([bytes]) };
  const body = errorToJsonBytes(malformedBody(parsed.message ?? ''), {});
  const header = new Headers(res.header);
  header.set('content-length', String(body.byteLength));
  return { ...res, status: 400, header, body: createAsyncIterable([body]) };
}

/** Wraps every unary handler of a router so that a body that does not parse is INVALID_ARGUMENT. */
export function invalidArgumentOnMalformedBody(handlers: UniversalHandler[]): void {
  for (let i = 0; i < handlers.length; i++) {
    const h = handlers[i]!;
    if (h.method.methodKind !== 'unary') continue;
    handlers[i] = wrapHandler(h, (req) => h(req).then(rewrite));
  }
}
