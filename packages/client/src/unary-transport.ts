/**
 * A connect-es {@link Transport} whose unary calls speak the Connect protocol with binary protobuf
 * over one `node:http2` session themselves (`POST /<service>/<method>`, `application/proto`), and
 * whose streams go to connect-es's own transport. connect-es spends most of a small call's CPU
 * on its per-call machinery (async-generator transforms, `Headers` copies, linked
 * `AbortController`s, a `DOMException` per abort); this path sends the same request bytes and reads
 * the answer with connect-es's exported protocol helpers, so results and errors (`ConnectError`
 * code, message and details, hence the client's `StrandError`s) are the same. Design:
 * docs/design/0013-server.md, "The lean unary path".
 *
 * @module
 */
import type http2 from 'node:http2';
import { create, type DescMessage, type DescMethodUnary, fromBinary, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { appendHeaders, Code, ConnectError, type ContextValues, type Transport, type UnaryResponse } from '@connectrpc/connect';
import { createMethodUrl, getAbortSignalReason } from '@connectrpc/connect/protocol';
import { contentTypeUnaryProto, errorFromJsonBytes, trailerDemux, validateResponseWithCompression } from '@connectrpc/connect/protocol-connect';
import type { Http2SessionManager } from '@connectrpc/connect-node';

/** What {@link leanTransport} needs. */
export interface LeanTransportOptions {
  /** The server's origin (`http://host:port` or `https://...`). */
  readonly baseUrl: string;
  /** The HTTP/2 session (shared with the streams' transport: pings, windows, reconnects). */
  readonly sessions: Http2SessionManager;
  /** Sent as `Authorization: Bearer` on every call. */
  readonly apiKey: string;
  /** Largest answer accepted, bytes (connect-es's `readMaxBytes`). */
  readonly readMaxBytes: number;
  /** connect-es's transport: every stream, and unary calls with options the lean path does not take. */
  readonly fallback: Transport;
}

/** The user agent connect-es sends (the request is the one it would send). */
const USER_AGENT = 'connect-es/2.3.0';

/** H2 error codes (RFC 9113) the client resets with, and reads. */
const H2_CANCEL = 0x8;
const H2_INTERNAL_ERROR = 0x2;

/** HTTP/2 error code names (RFC 9113, section 7), as connect-node names them in messages. */
const H2_NAMES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];

/** A Node.js error as the Connect error connect-node makes of it (`connectErrorFromNodeReason`). */
function fromNodeReason(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  const codes: string[] = [];
  const seen = new Set<unknown>();
  for (let r: unknown = reason; r instanceof Error && !seen.has(r); r = (r as { cause?: unknown }).cause) {
    seen.add(r);
    const c = (r as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
  }
  let code = Code.Internal;
  if (codes.includes('ERR_STREAM_WRITE_AFTER_END')) code = Code.Aborted;
  else if (codes.some((c) => c === 'ERR_STREAM_DESTROYED' || c === 'ERR_HTTP2_INVALID_STREAM' || c === 'ECONNRESET')) code = Code.Aborted;
  else if (codes.some((c) => c === 'ETIMEDOUT' || c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'ECONNREFUSED')) code = Code.Unavailable;
  const ce = ConnectError.from(reason, code);
  if (ce !== reason) ce.cause = reason;
  return ce;
}

/** connect-node's `connectErrorFromH2ResetCode`: the error a reset stream stands for, if any. */
function fromResetCode(rst: number): ConnectError | undefined {
  const byRst: Record<number, Code> = { 1: Code.Internal, 2: Code.Internal, 3: Code.Internal, 4: Code.Internal, 6: Code.Internal, 9: Code.Internal, 10: Code.Internal, 7: Code.Unavailable, 8: Code.Canceled, 11: Code.ResourceExhausted, 12: Code.PermissionDenied, 13: Code.PermissionDenied };
  const code = byRst[rst];
  return code === undefined ? undefined : new ConnectError(`http/2 stream closed with error code ${H2_NAMES[rst]} (0x${rst.toString(16)})`, code);
}


/** Node response headers as `Headers` (connect-node's `nodeHeaderToWebHeader`). */
function webHeaders(node: http2.IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith(':') || v === undefined) continue;
    if (typeof v === 'string') h.append(k, v);
    else if (typeof v === 'number') h.append(k, String(v));
    else for (const e of v) h.append(k, e);
  }
  return h;
}

/**
 * A transport for `@strand/client`: unary calls in the Connect binary protocol over `sessions`
 * directly, streams (and unary calls with custom headers) through `fallback`.
 */
export function leanTransport(options: LeanTransportOptions): Transport {
  const { sessions, fallback, readMaxBytes } = options;
  const authorization = `Bearer ${options.apiKey}`;
  const paths = new WeakMap<DescMethodUnary, string>();
  const pathOf = (method: DescMethodUnary): string => {
    let p = paths.get(method);
    if (p === undefined) paths.set(method, (p = new URL(createMethodUrl(options.baseUrl, method)).pathname));
    return p;
  };
  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: Parameters<Transport['unary']>[3],
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      if (header !== undefined || contextValues !== undefined) return fallback.unary(method, signal, timeoutMs, header, input, contextValues);
      return unary(method, pathOf(method), signal, timeoutMs !== undefined && timeoutMs > 0 ? timeoutMs : undefined, input);
    },
    stream: (...args) => fallback.stream(...args),
  };

  function unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    path: string,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    input: MessageInitShape<I>,
  ): Promise<UnaryResponse<I, O>> {
    return new Promise<UnaryResponse<I, O>>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = () => {
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: unknown) => {
        if (settled) return;
        finish();
        const error = fromNodeReason(e);
        if (stream !== undefined && !stream.closed) {
          stream.close(error.code === Code.Canceled ? H2_CANCEL : H2_INTERNAL_ERROR);
          stream.destroy();
        }
        reject(error);
      };
      // As connect-es's runUnaryCall: the caller's abort is CANCELED with its reason, the deadline DEADLINE_EXCEEDED.
      function onAbort() {
        fail(ConnectError.from(getAbortSignalReason(signal!), Code.Canceled));
      }
      if (signal !== undefined) {
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort);
      }
      if (timeoutMs !== undefined) timer = setTimeout(() => fail(new ConnectError('the operation timed out', Code.DeadlineExceeded)), timeoutMs);

      let body: Uint8Array;
      try {
        body = toBinary(method.input, create(method.input, input));
      } catch (e) {
        return fail(new ConnectError(`serialize binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal));
      }
      const headers: http2.OutgoingHttpHeaders = {
        authorization,
        'connect-protocol-version': '1',
        ...(timeoutMs === undefined ? {} : { 'connect-timeout-ms': String(timeoutMs) }),
        'content-type': contentTypeUnaryProto,
        'user-agent': USER_AGENT,
      };
      sessions.request('POST', path, headers, {}).then((s) => {
        stream = s;
        if (settled) {
          s.close(H2_CANCEL);
          return;
        }
        let responded = false;
        let status = 0;
        let head: http2.IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        let size = 0;
        s.on('error', (e) => {
          // An answer that came before the request was written out is still the answer.
          if (s.writableEnded && (e as { code?: unknown }).code === 'ERR_STREAM_WRITE_AFTER_END') return;
          fail(e);
        });
        s.on('close', () => {
          const err = fromResetCode(s.rstCode ?? 0);
          if (err !== undefined) fail(err);
          else if (!responded) {
            const rst = s.rstCode ?? 0;
            fail(new ConnectError(`http/2 stream closed with error code ${H2_NAMES[rst]} (0x${rst.toString(16)}) before the response was received`, Code.Internal));
          }
          else if (!settled) fail(new ConnectError('http/2 stream closed before the response ended', Code.Internal));
        });
        s.once('response', (h) => {
          responded = true;
          status = Number(h[':status'] ?? 0);
          head = h;
        });
        s.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > readMaxBytes) return fail(new ConnectError(`message size is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted));
          chunks.push(chunk);
          sessions.notifyResponseByteRead(s);
        });
        s.once('end', () => {
          if (settled) return;
          try {
            const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
            const res = answer(method, status, head, bytes);
            finish();
            resolve(res);
          } catch (e) {
            fail(e);
          }
        });
        s.end(body);
      }, fail);
    });
  }

  /** The call's answer, read as connect-es's Connect transport reads it. */
  function answer<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, status: number, head: http2.IncomingHttpHeaders, bytes: Uint8Array): UnaryResponse<I, O> {
    const lengthHint = head['content-length'];
    if (lengthHint !== undefined) {
      const n = Number.parseInt(lengthHint, 10);
      if (Number.isSafeInteger(n) && n >= 0 && n !== bytes.byteLength) throw new ConnectError(`protocol error: promised ${n} bytes, received ${bytes.byteLength}`, Code.InvalidArgument);
    }
    // The usual answer: its message, with its headers made only if the caller asks.
    if (status === 200 && head['content-type'] === contentTypeUnaryProto && head['content-encoding'] === undefined) {
      let message: UnaryResponse<I, O>['message'];
      try {
        message = fromBinary(method.output, bytes);
      } catch (e) {
        throw new ConnectError(`parse binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
      }
      let demuxed: [Headers, Headers] | undefined;
      const parts = () => (demuxed ??= trailerDemux(webHeaders(head)));
      return {
        stream: false,
        service: method.parent,
        method,
        message,
        get header() {
          return parts()[0];
        },
        get trailer() {
          return parts()[1];
        },
      } as UnaryResponse<I, O>;
    }
    const all = webHeaders(head);
    const { isUnaryError, unaryError } = validateResponseWithCompression(method.methodKind, [], true, status, all);
    const [header, trailer] = trailerDemux(all);
    if (isUnaryError) throw errorFromJsonBytes(bytes, appendHeaders(header, trailer), unaryError!);
    let message: UnaryResponse<I, O>['message'];
    try {
      message = fromBinary(method.output, bytes);
    } catch (e) {
      throw new ConnectError(`parse binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
    }
    return { stream: false, service: method.parent, method, header, message, trailer };
  }
}
