/**
 * `Subscribe` in the Connect streaming protocol with binary protobuf (`application/connect+proto`,
 * what `@strand/client` speaks), framed by the server itself rather than by connect-es: the same
 * bytes on the wire, without connect-es's per-call pipeline (about ten async-generator transforms,
 * `Headers` copies and three `AbortController`s per call, ~45 KB of heap that an idle subscription
 * holds for its whole life). The subscription itself is the shared core (`Subscriptions.start`),
 * as for every other protocol; event batches are written by hand (`encodeEventsResponse`) into
 * one buffer with their envelope. Requests this path does not take (gRPC, gRPC-Web, Connect JSON,
 * compression, a deadline) stay on connect-es. Design: docs/design/0013-server.md, "Idle
 * subscriptions".
 *
 * @module
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  createMethodSerializationLookup,
  encodeEnvelope,
  pipe,
  transformDecompressEnvelope,
  transformParseEnvelope,
  transformSplitEnvelope,
  validateReadWriteMaxBytes,
} from '@connectrpc/connect/protocol';
import {
  contentTypeStreamProto,
  createEndStreamSerialization,
  endStreamFlag,
  headerContentType,
  headerStreamAcceptEncoding,
  headerStreamEncoding,
  headerTimeout,
} from '@connectrpc/connect/protocol-connect';
import type { JsonTextEvent } from '@strand/core';
import { encodeEventsResponse, toConnectError, wire } from '@strand/protocol';
import { type Authenticator, bearer } from './auth.js';
import type { ConnectionId, Connections } from './connections.js';
import type { Limits } from './limits.js';
import type { ServerMetrics } from './metrics.js';
import type { HttpRequest, HttpResponse } from './server.js';
import type { Shutdown } from './shutdown.js';
import { type Subscription, type SubscriptionSink, type Subscriptions, sharedEventBytes } from './subscriptions.js';

/** The path of `strand.v1.EventStoreService/Subscribe`. */
const SUBSCRIBE_PATH = `/${wire.EventStoreService.typeName}/${wire.EventStoreService.method.subscribe.name}`;
const CONTENT_TYPE = headerContentType.toLowerCase();
const STREAM_ENCODING = headerStreamEncoding.toLowerCase();
const STREAM_ACCEPT_ENCODING = headerStreamAcceptEncoding.toLowerCase();
const TIMEOUT = headerTimeout.toLowerCase();
/** What connect-es answers a Connect binary stream with (Node adds `date`). */
const RESPONSE_HEADERS = { [CONTENT_TYPE]: contentTypeStreamProto };
/** A Connect envelope: one flags byte, the message's length in four. */
const ENVELOPE = 5;
const endStream = createEndStreamSerialization(undefined);

/** A header a request may carry once; anything else (absent, repeated) reads as its absence or a mismatch. */
function header(req: HttpRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** No encoding, or only `identity`: the stream is not compressed either way. */
function identityOnly(v: string | string[] | undefined): boolean {
  if (v === undefined) return true;
  if (typeof v !== 'string') return false;
  return v.split(',').every((s) => s.trim().toLowerCase() === 'identity' || s.trim() === '');
}

/** The envelope of an encoded message, written into its first five bytes. */
function envelop(buf: Buffer, flags: number): Buffer {
  buf[0] = flags;
  buf.writeUInt32BE(buf.length - ENVELOPE, 1);
  return buf;
}

function messageEnvelope(m: Parameters<typeof create<typeof wire.SubscribeResponseSchema>>[1]): Uint8Array {
  return encodeEnvelope(0, toBinary(wire.SubscribeResponseSchema, create(wire.SubscribeResponseSchema, m)));
}

/** What the lean path needs from the server. */
export interface ConnectSubscribeDeps {
  readonly auth: Authenticator;
  readonly connections: Connections;
  readonly subscriptions: Subscriptions;
  readonly limits: Limits;
  readonly shutdown: Shutdown;
  readonly metrics: ServerMetrics;
}

/** One call on the lean path: the response it writes to and the subscription it runs. */
class LeanCall implements SubscriptionSink {
  private headed = false;
  private closed = false;
  private drained: (() => void) | undefined;
  private subscription: Subscription | undefined;

  constructor(private readonly res: HttpResponse) {
    res.once('close', this.onClose);
  }

  private readonly onClose = (): void => {
    this.closed = true;
    this.subscription?.stop();
    this.onDrain();
  };

  private readonly onDrain = (): void => {
    const d = this.drained;
    this.drained = undefined;
    d?.();
  };

  /** The subscription this call runs: stopped when the stream closes (at once if it already did). */
  attach(sub: Subscription): void {
    this.subscription = sub;
    if (this.closed) sub.stop();
  }

  /** Writes bytes; a promise while the transport is full. */
  write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.closed) return undefined;
    const res = this.res;
    if (!this.headed) {
      this.headed = true;
      (res as { writeHead(status: number, headers: Record<string, string>): unknown }).writeHead(200, RESPONSE_HEADERS);
    }
    if ((res as { write(b: Uint8Array): boolean }).write(bytes)) return undefined;
    return new Promise((resolve) => {
      this.drained = () => {
        res.off('drain', this.onDrain);
        resolve();
      };
      res.once('drain', this.onDrain);
    });
  }

  /** Writes the end-stream message (with the error, if any) and ends the response. */
  end(error: ConnectError | undefined): void {
    if (this.closed) return;
    this.write(encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: new Headers(), error })));
    this.res.end();
  }

  started(subscriptionId: string, head: number, heartbeatMs: number): Promise<void> | undefined {
    return this.write(messageEnvelope({ message: { case: 'started', value: { subscriptionId, head: BigInt(head), heartbeatMs } } }));
  }

  events(batch: readonly JsonTextEvent[]): Promise<void> | undefined {
    return this.write(envelop(encodeEventsResponse(batch, ENVELOPE, sharedEventBytes), 0));
  }

  heartbeat(head: number, cursor: number): Promise<void> | undefined {
    return this.write(messageEnvelope({ message: { case: 'heartbeat', value: { head: BigInt(head), cursor: BigInt(cursor) } } }));
  }
}

/** The lean `Subscribe` path of a server. */
export class ConnectSubscribe {
  private readonly serialization;

  constructor(private readonly deps: ConnectSubscribeDeps) {
    this.serialization = createMethodSerializationLookup(
      wire.EventStoreService.method.subscribe,
      undefined,
      undefined,
      validateReadWriteMaxBytes(deps.limits.requestBytes, undefined, undefined),
    ).getI(true);
  }

  /**
   * True for a request this path serves: a `POST` of `Subscribe` over HTTP/2 as
   * `application/connect+proto`, uncompressed and without a deadline, answered uncompressed.
   * Everything else (HTTP/1.1 included) goes to connect-es.
   */
  accepts(req: HttpRequest, path: string): boolean {
    return (
      path === SUBSCRIBE_PATH &&
      req.method === 'POST' &&
      'stream' in req &&
      header(req, CONTENT_TYPE)?.toLowerCase() === contentTypeStreamProto &&
      identityOnly(req.headers[STREAM_ENCODING]) &&
      identityOnly(req.headers[STREAM_ACCEPT_ENCODING]) &&
      req.headers[TIMEOUT] === undefined
    );
  }

  /** Serves one subscription on `connection` (`kill` cuts its transport stream). */
  serve(req: HttpRequest, res: HttpResponse, connection: ConnectionId, kill: () => void): void {
    const call = new LeanCall(res);
    const start = process.hrtime.bigint();
    void this.run(req, call, connection, kill).then(
      (code) => this.deps.metrics.observe('Subscribe', code, start),
      () => this.deps.metrics.observe('Subscribe', 'Internal', start),
    );
  }

  /** Reads the one request message as connect-es does (same limits, same errors). */
  private async request(req: HttpRequest): Promise<wire.SubscribeRequest> {
    const max = this.deps.limits.requestBytes;
    const body = (req as unknown as { iterator(o: { destroyOnReturn: boolean }): AsyncIterable<Uint8Array> }).iterator({ destroyOnReturn: false });
    const it = pipe(body, transformSplitEnvelope(max), transformDecompressEnvelope(null, max), transformParseEnvelope(this.serialization, endStreamFlag))[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done === true) throw new ConnectError('protocol error: missing input message for server-streaming method', Code.Unimplemented);
    const second = await it.next();
    if (second.done !== true) throw new ConnectError('protocol error: received extra input message for server-streaming method', Code.Unimplemented);
    return first.value as wire.SubscribeRequest;
  }

  /** Runs the call; resolves with the code the metrics count. */
  private async run(req: HttpRequest, call: LeanCall, connection: ConnectionId, kill: () => void): Promise<string> {
    const { auth, connections, subscriptions, limits, shutdown, metrics } = this.deps;
    let message: wire.SubscribeRequest;
    try {
      message = await this.request(req);
    } catch (error) {
      const e = ConnectError.from(error);
      call.end(e);
      return Code[e.code] ?? 'unknown';
    }
    metrics.subscriptions.inc();
    let end: (() => void) | undefined;
    let closeStream: (() => void) | undefined;
    let off: (() => void) | undefined;
    try {
      const scope = auth.authenticate(bearer(header(req, 'authorization')));
      end = connections.enter(scope.tenant, connection);
      closeStream = connections.openStream(connection);
      const sub = subscriptions.start(scope, message, call, { limits, shutdown: shutdown.signal, kill });
      call.attach(sub);
      off = shutdown.on(sub.stop);
      await sub.done;
      call.end(undefined);
      return 'ok';
    } catch (error) {
      const e = toConnectError(error);
      call.end(e);
      return Code[e.code] ?? 'unknown';
    } finally {
      off?.();
      closeStream?.();
      end?.();
      metrics.subscriptions.dec();
    }
  }
}
