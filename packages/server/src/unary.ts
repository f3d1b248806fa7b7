/**
 * The lean path for unary calls in the Connect protocol with binary protobuf (what
 * `@strand/client` speaks): `POST /strand.v1.<Service>/<Method>` over HTTP/2 with
 * `content-type: application/proto` and no compression, answered straight from the method's
 * implementation, the same function connect-es calls, without connect-es's per-call pipeline (its
 * universal request and response, async-generator transforms, `Headers` copies, linked
 * `AbortController`s and the `DOMException` each abort makes). Everything else (gRPC, gRPC-Web,
 * Connect JSON, GET, compressed bodies, HTTP/1.1, streams) goes to connect-es. The answer's bytes
 * are what connect-es would send. Design: docs/design/0013-server.md, "The lean unary path".
 *
 * @module
 */
import http2, { type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import { create, type DescMessage, type DescMethod, type DescMethodUnary, type DescService, fromBinary, type Message, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type ContextValues, type HandlerContext, type MethodImpl } from '@connectrpc/connect';
import { createLinkedAbortController, createDeadlineSignal, mergeNonProtocolHeaders } from '@connectrpc/connect/protocol';
import { codeToHttpStatus, contentTypeUnaryJson, contentTypeUnaryProto, errorToJsonBytes, parseTimeout, trailerMux } from '@connectrpc/connect/protocol-connect';
import { malformedBody } from './malformed.js';
import type { ServerMetrics } from './metrics.js';

/** A unary method and the implementation registered for it. */
interface UnaryRoute {
  readonly method: DescMethodUnary;
  readonly impl: (req: unknown, ctx: HandlerContext) => unknown;
}

/** What the lean path needs from the server. */
export interface LeanUnaryOptions {
  /** Largest request body (connect-es's `readMaxBytes`). */
  readonly readMaxBytes: number;
  /** Counts and times calls as the metrics interceptor does. */
  readonly metrics: ServerMetrics;
  /** The context values of a call (as connect-es's `contextValues` option). */
  readonly contextValues: (req: Http2ServerRequest) => ContextValues;
}

/** connect-es's default `maxTimeoutMs` (no upper bound on a client's deadline). */
const MAX_TIMEOUT_MS = Number.MAX_SAFE_INTEGER;

/** A {@link HandlerContext} whose costly parts (headers, signal, URL) are made only when a handler asks. */
class LeanContext implements HandlerContext {
  readonly requestMethod = 'POST';
  readonly protocolName = 'connect';
  private header: Headers | undefined;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;
  private controller: AbortController | undefined;
  private deadline: { signal: AbortSignal; cleanup: () => void } | undefined;
  private readonly deadlineAt: number | undefined;

  constructor(
    readonly method: DescMethod,
    private readonly req: Http2ServerRequest,
    private readonly timeout: number | undefined,
    readonly values: ContextValues,
  ) {
    this.deadlineAt = timeout === undefined ? undefined : Date.now() + timeout;
  }

  get service(): DescService {
    return this.method.parent;
  }

  readonly timeoutMs = (): number | undefined => (this.deadlineAt === undefined ? undefined : this.deadlineAt - Date.now());

  get requestHeader(): Headers {
    if (this.header === undefined) {
      const h = new Headers();
      for (const [k, v] of Object.entries(this.req.headers)) {
        if (k.startsWith(':') || v === undefined) continue;
        if (Array.isArray(v)) for (const x of v) h.append(k, x);
        else h.append(k, v);
      }
      this.header = h;
    }
    return this.header;
  }

  get responseHeader(): Headers {
    return (this.resHeader ??= new Headers({ 'content-type': contentTypeUnaryProto }));
  }

  get responseTrailer(): Headers {
    return (this.resTrailer ??= new Headers());
  }

  get url(): string {
    const scheme = 'encrypted' in this.req.socket && this.req.socket.encrypted === true ? 'https' : 'http';
    return new URL(this.req.url, `${scheme}://${this.req.authority}`).toString();
  }

  /** Aborts when the client's stream closes or the deadline passes (what connect-es links), made on first use. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const closed = new AbortController();
      if (this.req.stream.closed || this.req.stream.destroyed) closed.abort();
      else this.req.once('close', () => closed.abort());
      this.deadline = createDeadlineSignal(this.timeout);
      this.controller = createLinkedAbortController(this.deadline.signal, closed.signal);
    }
    return this.controller.signal;
  }

  /** The call ended: stop the deadline timer and abort the signal, if a handler made one. */
  end(): void {
    if (this.controller === undefined) return;
    this.deadline?.cleanup();
    this.controller.abort();
  }

  /** Headers and trailers a handler set, beside the protocol's, as connect-es sends them. */
  extra(): Headers | undefined {
    if (this.resHeader === undefined && this.resTrailer === undefined) return undefined;
    return trailerMux(this.responseHeader, this.responseTrailer);
  }
}

/** The error every call body over the limit gets (connect-es's `readMaxBytes` message). */
function tooLarge(limit: number, size?: number): ConnectError {
  return new ConnectError(`message size ${size === undefined ? '' : `${size} `}is larger than configured readMaxBytes ${limit}`, Code.ResourceExhausted);
}

/** Unary methods served without connect-es, by request path. */
export class LeanUnary {
  private readonly routes = new Map<string, UnaryRoute>();
  /** Calls this path took (tests tell the two paths apart by it). */
  served = 0;

  constructor(private readonly options: LeanUnaryOptions) {}

  /**
   * A router that records every unary implementation registered on `router` (and registers it
   * there as well), so both paths call the same function.
   */
  recording(router: ConnectRouter): ConnectRouter {
    const add = (method: DescMethod, impl: unknown) => {
      if (method.methodKind === 'unary' && typeof impl === 'function') this.routes.set(`/${method.parent.typeName}/${method.name}`, { method: method as DescMethodUnary, impl: impl as UnaryRoute['impl'] });
    };
    const proxy: ConnectRouter = {
      get handlers() {
        return router.handlers;
      },
      service(service, impl, options) {
        // Options that change how a service is served (protocols, interceptors, limits) keep it on connect-es.
        if (options === undefined) {
          for (const method of service.methods) {
            const fn = (impl as Record<string, unknown>)[method.localName];
            // connect-es binds each method to its implementation object.
            if (typeof fn === 'function') add(method, (fn as (...a: unknown[]) => unknown).bind(impl));
          }
        }
        router.service(service, impl, options);
        return proxy;
      },
      rpc(method, impl, options) {
        if (options === undefined) add(method, impl as MethodImpl<typeof method>);
        router.rpc(method, impl, options);
        return proxy;
      },
    };
    return proxy;
  }

  /**
   * Serves `req` if it is a Connect binary unary call of a recorded method over HTTP/2 without
   * compression; false (nothing done) for anything else, which connect-es then serves.
   */
  serve(req: object, res: object): boolean {
    // HTTP/1.1 requests have no HTTP/2 stream.
    if (!('stream' in req)) return false;
    const r = req as Http2ServerRequest;
    if (r.method !== 'POST') return false;
    const route = this.routes.get(r.url);
    if (route === undefined) return false;
    const h = r.headers;
    if (h['content-type'] !== contentTypeUnaryProto || h['content-encoding'] !== undefined || h['accept-encoding'] !== undefined) return false;
    this.served++;
    void this.handle(route, r, res as Http2ServerResponse);
    return true;
  }

  private async handle(route: UnaryRoute, req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const { method } = route;
    let ctx: LeanContext | undefined;
    // Until the body is read, an answer leaves part of it unread.
    let unread = true;
    try {
      const timeout = parseTimeout((req.headers['connect-timeout-ms'] as string | undefined) ?? null, MAX_TIMEOUT_MS);
      if (timeout.error) throw timeout.error;
      const bytes = await readBody(req, this.options.readMaxBytes);
      unread = false;
      let input: unknown;
      try {
        input = fromBinary(method.input, bytes);
      } catch (e) {
        // What malformed.ts makes of connect-es's "parse binary" answer.
        throw malformedBody(`parse binary: ${e instanceof Error ? e.message : String(e)}`);
      }
      ctx = new LeanContext(method, req, timeout.timeoutMs, this.options.contextValues(req));
      const output = await this.invoke(route, input, ctx);
      let body: Uint8Array;
      try {
        body = toBinary(method.output, output);
      } catch (e) {
        throw new ConnectError(`serialize binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
      }
      respond(req, res, 200, contentTypeUnaryProto, body, ctx.extra(), false);
    } catch (e) {
      const error = e instanceof ConnectError ? e : new ConnectError('internal error', Code.Internal, undefined, undefined, e);
      let extra = ctx?.extra();
      if (!error.isWireError && hasAny(error.metadata)) mergeNonProtocolHeaders((extra ??= new Headers()), error.metadata);
      respond(req, res, codeToHttpStatus(error.code), contentTypeUnaryJson, errorToJsonBytes(error, {}), extra, unread);
    } finally {
      ctx?.end();
    }
  }

  /** Runs the implementation, counted and timed as the metrics interceptor does (only calls that reach it). */
  private async invoke(route: UnaryRoute, input: unknown, ctx: LeanContext): Promise<Message> {
    const { method } = route;
    const start = process.hrtime.bigint();
    try {
      const out = await route.impl(input, ctx);
      this.options.metrics.observe(method.name, 'ok', start);
      // connect-es's normalize: the output as a full message.
      return create(method.output, out as MessageInitShape<DescMessage>);
    } catch (error) {
      this.options.metrics.observe(method.name, Code[ConnectError.from(error).code] ?? 'unknown', start);
      throw error;
    }
  }
}

function hasAny(h: Headers): boolean {
  for (const _ of h.keys()) return true;
  return false;
}

/** Writes an answer as connect-node does: its headers in `Headers` order (sorted), then the body. */
function respond(req: Http2ServerRequest, res: Http2ServerResponse, status: number, contentType: string, body: Uint8Array, extra: Headers | undefined, unread: boolean): void {
  const stream = req.stream;
  if (stream.destroyed || stream.closed) return;
  let headers: Record<string, string | string[]>;
  if (extra === undefined) {
    headers = { 'content-length': String(body.byteLength), 'content-type': contentType };
  } else {
    extra.set('content-type', contentType);
    extra.set('content-length', String(body.byteLength));
    // connect-node's webHeaderToNodeHeaders.
    headers = Object.create(null) as Record<string, string | string[]>;
    extra.forEach((v, k) => {
      const had = headers[k];
      headers[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    });
  }
  // A body left unread (over the limit, or refused before reading): reset the stream with NO_ERROR once the answer is out,
  // so the client stops sending (connect-node does the same).
  if (unread) closeAfterAnswer(stream);
  try {
    res.writeHead(status, headers);
    res.end(body);
  } catch {
    // The client went away while the call ran; nothing to answer.
  }
}

function closeAfterAnswer(stream: ServerHttp2Stream): void {
  stream.once('wantTrailers', () => {
    setImmediate(() => {
      if (stream.state.remoteClose === 0) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  });
}

/**
 * The request body, as connect-es's `readAllBytes` reads it: a `content-length` over the limit is
 * refused before reading, a body that exceeds its `content-length` or the limit fails as soon as it
 * does, with connect-es's errors.
 */
function readBody(req: Http2ServerRequest, limit: number): Promise<Uint8Array> {
  const lengthHeader = req.headers['content-length'];
  const hint = lengthHeader === undefined ? Number.NaN : Number.parseInt(lengthHeader, 10);
  const known = Number.isSafeInteger(hint) && hint >= 0;
  if (known && hint > limit) return Promise.reject(tooLarge(limit, hint));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: unknown, value?: Uint8Array) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (error === undefined) resolve(value!);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      if (known && size + chunk.byteLength > hint) return done(new ConnectError(`protocol error: promised ${hint} bytes, received ${size + chunk.byteLength}`, Code.InvalidArgument));
      size += chunk.byteLength;
      if (!known && size > limit) return done(tooLarge(limit));
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (known && size < hint) return done(new ConnectError(`protocol error: promised ${hint} bytes, received ${size}`, Code.InvalidArgument));
      done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: unknown) => done(ConnectError.from(error));
    const onClose = () => done(new ConnectError('the client closed the call', Code.Canceled));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}
