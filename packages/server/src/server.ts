/**
 * `createServer({ log | tenants, ... }).listen()`: Strand as a network service. One port serves
 * gRPC, gRPC-Web and the Connect protocol (HTTP/2 cleartext and HTTP/1.1, or TLS with ALPN), the
 * SSE tail, health, readiness and Prometheus metrics. Design: docs/design/0013-server.md.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import http from 'node:http';
import http2, { type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import { createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { type EventLog, InvalidArgumentError } from '@strand/core';
import type { TenantManager } from '@strand/core/tenancy';
import { type Authenticator, bearer, newServerKey, SingleLogAuthenticator, TenantAuthenticator } from './auth.js';
import { type ConnectionId, Connections } from './connections.js';
import { type Limits, resolveLimits, type ServerLimits } from './limits.js';
import { GroupHost, type HostedGroupOptions, registerGroupService } from './groups.js';
import { ServerMetrics } from './metrics.js';
import { registerAdminService } from './admin.js';
import { callInfoKey } from './calls.js';
import { ConnectSubscribe } from './connect-subscribe.js';
import { invalidArgumentOnMalformedBody } from './malformed.js';
import { type HostedProjections, registerProjectionService, waitForHosted } from './projections.js';
import { registerSchemaService } from './schemas.js';
import { endStreamsOnShutdown, Shutdown } from './shutdown.js';
import { registerSnapshotService } from './snapshots.js';
import { registerInfoService } from './info.js';
import { LeanUnary } from './unary.js';
import { registerEventStoreService, type WaitForProjections } from './service.js';
import { Subscriptions } from './subscriptions.js';
import { sendError, serveTail } from './tail.js';

/** A request as the HTTP hooks see it (HTTP/1.1 or HTTP/2). */
export type HttpRequest = IncomingMessage | Http2ServerRequest;
/** A response as the HTTP hooks see it. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

/** Options of {@link createServer}: `log` (one log, the `default` tenant) or `tenants`. */
export interface ServerOptions {
  /** Serve one log. Every API key in `apiKeys` has every permission on it. */
  log?: EventLog;
  /** Serve a tenant registry: API keys are its principals' keys, checked against their grants. */
  tenants?: TenantManager;
  /**
   * API keys of a single-log server. When none is given one is generated (`server.apiKey`, which
   * `strand serve` prints): a server is never open without a key.
   */
  apiKeys?: string | readonly string[];
  /** The admin credential (tenant administration, `/metrics`); generated when absent (`server.adminKey`). */
  adminKey?: string;
  /** Limits (request size, events per append, streams per connection...). */
  limits?: ServerLimits;
  /** Serve TLS (HTTP/2 and HTTP/1.1 by ALPN) with this PEM certificate and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Extra HTTP routes by path prefix, tried before the RPC routes: e.g. `{ '/ui': serveConsole }`
   * for the web console. A handler owns the request and its response.
   */
  routes?: Record<string, (req: HttpRequest, res: HttpResponse) => void>;
  /**
   * Projections the server hosts (started `ProjectionRunner`s of `@strand/projections`): one list
   * for a single log, or a function from tenant name to its list. Clients see their status, lag
   * and parked streams, retry, skip and rebuild them (`client.projections()`), and appends may
   * wait for them (`waitFor`).
   */
  projections?: HostedProjections;
  /**
   * Read-your-writes for appends that name projections (`waitFor`). Default: the hosted
   * `projections`' own `waitFor`.
   */
  waitForProjections?: WaitForProjections;
  /**
   * Consumer groups the server hosts for remote members (`strand.v1.ConsumerGroupService`):
   * settings every group it opens gets (session timeout, retries, backoff...).
   */
  groups?: HostedGroupOptions;
  /**
   * The size of a single log's store in bytes (`GetStoreInfo`, the console's overview), when the
   * embedder can tell: `strand serve` passes its LevelDB directory's size. A tenant's size is its
   * stored event bytes (its usage), whatever this says.
   */
  storeSize?: () => Promise<number | undefined>;
  /** Close the log or tenant registry when the server closes. Default false. */
  ownsStore?: boolean;
}

/** Where a server listens. */
export interface ListenOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Interface. Default `127.0.0.1`. */
  host?: string;
}

/**
 * HTTP/2 receive windows. The protocol's default (65,535 bytes for each stream and for the whole
 * connection) makes a peer stop after 64 KiB until the server's process runs and answers with
 * WINDOW_UPDATE: a 1 MiB append batch would take 16 such round trips, and on a busy machine each
 * waits for a time slice. A stream may carry a whole batch, the connection several.
 */
const STREAM_WINDOW = 1 << 20;
/** How long a shutdown waits for HTTP/2 sessions to write their last answers before cutting them. */
const CLOSE_GRACE_MS = 2_000;
const SESSION_WINDOW = 8 << 20;

function keysOf(k: string | readonly string[] | undefined): string[] {
  const list = k === undefined ? [] : typeof k === 'string' ? [k] : [...k];
  for (const key of list) {
    if (typeof key !== 'string' || key.length < 16 || key.length > 512 || !/^[\x21-\x7e]+$/.test(key)) {
      throw new InvalidArgumentError('An API key is 16 to 512 printable ASCII characters without spaces.');
    }
  }
  return list;
}

/** A Strand server. Create with {@link createServer}. */
export class StrandServer {
  /** The API key of a single-log server (the first given, or the generated one). */
  readonly apiKey: string | undefined;
  /** The admin credential. */
  readonly adminKey: string;
  /** Limits in force. */
  readonly limits: Limits;
  /** The server's metrics. */
  readonly metrics = new ServerMetrics();
  private readonly auth: Authenticator;
  private readonly connections: Connections;
  private readonly subscriptions = new Subscriptions();
  private readonly leanSubscribe: ConnectSubscribe;
  private readonly groupHost: GroupHost;
  private readonly shutdown = new Shutdown();
  private readonly lean: LeanUnary;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Http2Session>();
  private readonly listener: net.Server;
  private readonly h1: http.Server | undefined;
  private readonly h2: http2.Http2Server | http2.Http2SecureServer;
  private closing: Promise<void> | undefined;
  private address: AddressInfo | undefined;

  /** @internal */
  constructor(private readonly options: ServerOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('createServer needs { log } or { tenants }.');
    if ((options.log === undefined) === (options.tenants === undefined)) throw new InvalidArgumentError('createServer needs exactly one of { log } or { tenants }.');
    this.limits = resolveLimits(options.limits);
    this.connections = new Connections(this.limits);
    this.adminKey = keysOf(options.adminKey)[0] ?? newServerKey();
    if (options.log !== undefined) {
      const keys = keysOf(options.apiKeys);
      if (keys.length === 0) keys.push(newServerKey());
      this.apiKey = keys[0];
      this.auth = new SingleLogAuthenticator(options.log, keys, [this.adminKey], options.storeSize);
    } else {
      if (options.apiKeys !== undefined) throw new InvalidArgumentError('apiKeys is for a single-log server; a tenant server uses its principals\' keys.');
      this.auth = new TenantAuthenticator(options.tenants!, [this.adminKey]);
    }
    if (options.storeSize !== undefined && typeof options.storeSize !== 'function') throw new InvalidArgumentError('storeSize must be a function () => Promise<number | undefined>.');
    if (options.storeSize !== undefined && options.log === undefined) throw new InvalidArgumentError("storeSize is for a single-log server; a tenant's size is its usage.");
    for (const prefix of Object.keys(options.routes ?? {})) {
      if (!/^\/[A-Za-z0-9_-]+$/.test(prefix)) throw new InvalidArgumentError(`A route prefix is "/" and a name, e.g. "/ui"; got ${JSON.stringify(prefix)}.`);
    }

    this.groupHost = new GroupHost(options.groups);
    const contextValues = (req: HttpRequest) => createContextValues().set(callInfoKey, { connection: connectionOf(req), kill: () => kill(req), authorization: req.headers.authorization });
    this.lean = new LeanUnary({ readMaxBytes: this.limits.requestBytes, metrics: this.metrics, contextValues });
    this.leanSubscribe = new ConnectSubscribe({
      auth: this.auth,
      connections: this.connections,
      subscriptions: this.subscriptions,
      limits: this.limits,
      shutdown: this.shutdown,
      metrics: this.metrics,
    });
    const rpc = connectNodeAdapter({
      routes: (connectRouter) => {
        // Every unary implementation is also recorded for the lean path (unary.ts).
        const router = this.lean.recording(connectRouter);
        registerEventStoreService(router, {
          auth: this.auth,
          connections: this.connections,
          subscriptions: this.subscriptions,
          limits: this.limits,
          shutdown: this.shutdown.signal,
          waitFor:
            options.waitForProjections ??
            (options.projections === undefined ? undefined : (names, position, timeoutMs, tenant, streams) => waitForHosted(options.projections, tenant, names, position, timeoutMs, streams)),
        });
        registerGroupService(router, { host: this.groupHost, auth: this.auth, connections: this.connections, limits: this.limits });
        const calls = { auth: this.auth, connections: this.connections, limits: this.limits };
        registerSchemaService(router, calls);
        registerSnapshotService(router, calls);
        registerInfoService(router, calls);
        registerProjectionService(router, { ...calls, hosted: options.projections });
        registerAdminService(router, { auth: this.auth, tenants: options.tenants, limits: this.limits });
        invalidArgumentOnMalformedBody(router.handlers);
        // Not connect-es's shutdownSignal: it adds a listener to one signal per call (0013, "Shutdown").
        endStreamsOnShutdown(router.handlers, this.shutdown);
      },
      readMaxBytes: this.limits.requestBytes,
      interceptors: [this.metrics.interceptor()],
      contextValues,
    });
    const handler = (req: HttpRequest, res: HttpResponse) => this.route(req, res, rpc);
    if (options.tls !== undefined) {
      this.h2 = http2.createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, settings: { initialWindowSize: STREAM_WINDOW } }, handler);
      this.h1 = undefined;
      this.listener = this.h2 as unknown as net.Server;
      this.listener.on('secureConnection', (s: Socket) => this.track(s));
    } else {
      this.h2 = http2.createServer({ settings: { initialWindowSize: STREAM_WINDOW } }, handler);
      this.h1 = http.createServer(handler);
      // HTTP/2 without TLS (h2c, prior knowledge) and HTTP/1.1 on one port: the first bytes tell.
      this.listener = net.createServer((socket) => {
        this.track(socket);
        socket.once('data', (buf) => {
          socket.pause();
          socket.unshift(buf);
          const h2c = buf.length >= 3 && buf.toString('latin1', 0, 3) === 'PRI';
          (h2c ? this.h2 : this.h1!).emit('connection', socket);
          process.nextTick(() => socket.resume());
        });
        socket.on('error', () => socket.destroy());
      });
    }
    this.h2.on('session', (session: Http2Session) => {
      this.sessions.add(session);
      session.setLocalWindowSize(SESSION_WINDOW);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => session.destroy());
    });
  }

  private track(socket: Socket): void {
    // Small messages (an append's answer, a credit grant) must not wait for Nagle's delayed ACK.
    socket.setNoDelay(true);
    this.sockets.add(socket);
    this.metrics.connections.inc();
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.metrics.connections.dec();
    });
  }

  private route(req: HttpRequest, res: HttpResponse, rpc: (req: HttpRequest, res: HttpResponse) => void): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') return void res.end('ok\n');
    if (path === '/readyz') {
      const ready = !this.shutdown.aborted;
      (res as ServerResponse).writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      return void res.end(ready ? 'ready\n' : 'shutting down\n');
    }
    if (path === '/metrics') return void this.serveMetrics(req, res);
    if (path === '/v1/tail') {
      return void serveTail(req, res, {
        auth: this.auth,
        connections: this.connections,
        limits: this.limits,
        shutdown: this.shutdown,
        metrics: this.metrics,
        connection: connectionOf(req),
      });
    }
    for (const [prefix, serve] of Object.entries(this.options.routes ?? {})) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return void serve(req, res);
    }
    if (this.shutdown.aborted) {
      // `connection` is an HTTP/1.1 header (HTTP/2 refuses it with a warning).
      (res as ServerResponse).writeHead(503, 'stream' in req ? {} : { connection: 'close' });
      return void res.end();
    }
    // Subscribe in Connect binary, uncompressed (@strand/client): framed here, not by connect-es (0013, "Idle subscriptions").
    if (this.leanSubscribe.accepts(req, path)) return void this.leanSubscribe.serve(req, res, connectionOf(req), () => kill(req));
    if (this.lean.serve(req, res)) return;
    rpc(req, res);
  }

  private async serveMetrics(req: HttpRequest, res: HttpResponse): Promise<void> {
    try {
      const key = bearer(req.headers.authorization);
      // Tenant metrics name tenants: only the admin credential (or a single log's key) reads them.
      let ok = this.auth.isAdmin(key);
      if (!ok && this.options.log !== undefined) {
        try {
          this.auth.authenticate(key);
          ok = true;
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        (res as ServerResponse).writeHead(401, { 'content-type': 'text/plain' });
        return void res.end('unauthenticated\n');
      }
      let text = await this.metrics.registry.metrics();
      if (this.options.tenants !== undefined) text += await this.options.tenants.metrics();
      (res as ServerResponse).writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(text);
    } catch (error) {
      sendError(res, error);
    }
  }

  /** Starts listening; resolves with the URL clients connect to. */
  async listen(options: ListenOptions = {}): Promise<string> {
    const port = options.port ?? 0;
    const host = options.host ?? '127.0.0.1';
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`port must be 0..65535; got ${String(port)}.`);
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(port, host, () => {
        this.listener.off('error', reject);
        resolve();
      });
    });
    this.address = this.listener.address() as AddressInfo;
    return this.url;
  }

  /** The URL clients connect to (after {@link StrandServer.listen}). */
  get url(): string {
    if (this.address === undefined) throw new InvalidArgumentError('The server is not listening; call listen() first.');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${this.address.port}`;
  }

  /** The port listened on. */
  get port(): number {
    if (this.address === undefined) throw new InvalidArgumentError('The server is not listening; call listen() first.');
    return this.address.port;
  }

  /** @internal Unary calls served by the lean path (unary.ts) so far, not by connect-es. */
  get leanUnaryCalls(): number {
    return this.lean.served;
  }

  /** Subscriptions open now. */
  get openSubscriptions(): number {
    return this.subscriptions.size;
  }

  /**
   * Graceful shutdown: stop accepting, end subscriptions with a resume cursor
   * (`STRAND_SUBSCRIPTION_ENDED`, reason `shutdown`), finish the calls in flight (every
   * acknowledged append is durable), close the connections, then the store if the server owns it.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.listener.close();
      this.shutdown.fire();
      // Hosted groups write their checkpoints; their members' calls end.
      await this.groupHost.close();
      await this.connections.drained();
      // The last answers are written after their calls end: a session closes (GOAWAY) once its
      // streams are done, so an append acknowledged at shutdown reaches its client. Bounded: a
      // peer that never reads is cut below.
      let bounded: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.sessions].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.close(() => resolve()))))),
        new Promise<void>((resolve) => {
          bounded = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(bounded);
      // Idle HTTP/1.1 keep-alive connections and sessions that did not go away.
      await new Promise((resolve) => setImmediate(resolve));
      for (const s of this.sockets) s.destroy();
      if (this.options.ownsStore) {
        await this.options.log?.close();
        await this.options.tenants?.close();
      }
    })();
    return this.closing;
  }
}

function connectionOf(req: HttpRequest): ConnectionId {
  const session = (req as Http2ServerRequest).stream?.session;
  return session ?? req.socket;
}

function kill(req: HttpRequest): void {
  const stream = (req as Http2ServerRequest).stream;
  if (stream !== undefined) stream.close(http2.constants.NGHTTP2_CANCEL);
  else req.socket.destroy();
}

/**
 * Creates a server for one log (`{ log }`, API keys with every permission) or a tenant registry
 * (`{ tenants }`, principals' keys checked against their grants). Call `listen()` to start it.
 *
 * @example
 * ```ts
 * const server = createServer({ log: await openLog({ path: './data' }), ownsStore: true });
 * const url = await server.listen({ port: 7070 });
 * console.log(url, server.apiKey);
 * ```
 */
export function createServer(options: ServerOptions): StrandServer {
  return new StrandServer(options);
}
