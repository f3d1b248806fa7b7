/**
 * `GET /v1/tail?pattern=...&from=...`: a live tail as Server-Sent Events, for browsers and curl.
 * Each event is `id: <position>` and `data: <the event as JSON>`; a reconnecting EventSource sends
 * `Last-Event-ID` and the tail resumes after it, with no gap and no duplicate.
 * Design: docs/design/0013-server.md, "SSE tail".
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { InvalidArgumentError, isStrandError, type JsonTextEvent } from '@strand/core';
import { connectCodeOf } from '@strand/protocol';
import { type Authenticator, bearer } from './auth.js';
import type { ConnectionId, Connections } from './connections.js';
import type { Limits } from './limits.js';
import type { ServerMetrics } from './metrics.js';
import type { Shutdown } from './shutdown.js';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

const HTTP_STATUS: Record<number, number> = { 3: 400, 4: 504, 5: 404, 7: 403, 8: 429, 9: 412, 14: 503, 16: 401 };

/** Sends a JSON error body with the HTTP status fitting the error. */
export function sendError(res: Res, error: unknown): void {
  const strand = isStrandError(error) ? error : undefined;
  const code = strand === undefined ? 13 : connectCodeOf(strand.code, strand.kind);
  const body = JSON.stringify(strand === undefined ? { code: 'STRAND_INTERNAL', message: 'Internal server error.' } : { code: strand.code, message: strand.message });
  if (!res.headersSent) (res as ServerResponse).writeHead(HTTP_STATUS[code] ?? 500, { 'content-type': 'application/json' });
  res.end(body);
}

function writeAsync(res: Res, chunk: string, stallMs: number): Promise<boolean> {
  if ((res as ServerResponse).write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), stallMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * The event as one line of JSON, the fields a `RecordedEvent` has (what `JSON.stringify` of it
 * gives, `data` being the stored payload text): JSON text never holds a raw line break, so it fits
 * an SSE `data:` line.
 */
function eventJson(e: JsonTextEvent): string {
  let s = `{"stream":${JSON.stringify(e.stream)},"version":${e.version},"position":${e.position},"type":${JSON.stringify(e.type)},"id":${JSON.stringify(e.id)},"timestamp":${e.timestamp}`;
  if (e.dataJson !== '') s += `,"data":${e.dataJson}`;
  if (e.metadata !== undefined) s += `,"metadata":${JSON.stringify(e.metadata)}`;
  if (e.schemaVersion !== undefined) s += `,"schemaVersion":${e.schemaVersion}`;
  return `${s}}`;
}

/** Serves one tail request. */
export async function serveTail(
  req: Req,
  res: Res,
  deps: { auth: Authenticator; connections: Connections; limits: Limits; shutdown: Shutdown; metrics: ServerMetrics; connection: ConnectionId },
): Promise<void> {
  let end: (() => void) | undefined;
  let closeStream: (() => void) | undefined;
  const abort = new AbortController();
  const onClose = () => abort.abort();
  res.on('close', onClose);
  const offShutdown = deps.shutdown.on(onClose);
  try {
    if (req.method !== 'GET') throw new InvalidArgumentError('The tail answers GET only.');
    const scope = deps.auth.authenticate(bearer(req.headers.authorization));
    end = deps.connections.enter(scope.tenant, deps.connection);
    closeStream = deps.connections.openStream(deps.connection);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const pattern = url.searchParams.get('pattern') ?? '>';
    const lastId = req.headers['last-event-id'];
    const fromText = typeof lastId === 'string' && lastId !== '' ? String(Number(lastId) + 1) : url.searchParams.get('from');
    let from: number | 'end' = 'end';
    if (fromText !== null && fromText !== '' && fromText !== 'end') {
      from = Number(fromText);
      if (!Number.isSafeInteger(from) || from < 1) throw new InvalidArgumentError(`from (or Last-Event-ID + 1) must be a position >= 1; got ${JSON.stringify(fromText)}.`);
    }
    // Payloads as the JSON text the log stores: each goes into its line as it is, not parsed and stringified again.
    const iterator = scope.store.followJson(pattern, { from, signal: abort.signal })[Symbol.asyncIterator]();
    (res as ServerResponse).writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    deps.metrics.subscriptions.inc();
    try {
      if (!(await writeAsync(res, `retry: 1000\n: subscribed to ${pattern}\n\n`, deps.limits.subscriberStallMs))) return;
      let pending: Promise<IteratorResult<JsonTextEvent>> | undefined;
      for (;;) {
        pending ??= iterator.next();
        let timer: NodeJS.Timeout | undefined;
        const beat = new Promise<'beat'>((resolve) => {
          timer = setTimeout(() => resolve('beat'), deps.limits.heartbeatMs);
        });
        const r = await Promise.race([pending, beat]);
        clearTimeout(timer);
        if (abort.signal.aborted) return;
        if (r === 'beat') {
          if (!(await writeAsync(res, ': heartbeat\n\n', deps.limits.subscriberStallMs))) return;
          continue;
        }
        pending = undefined;
        if (r.done) return;
        const e = r.value;
        const line = `id: ${e.position}\nevent: event\ndata: ${eventJson(e)}\n\n`;
        // A reader that stops reading is dropped after the stall limit; it resumes with Last-Event-ID.
        if (!(await writeAsync(res, line, deps.limits.subscriberStallMs))) return;
      }
    } finally {
      deps.metrics.subscriptions.dec();
      abort.abort();
      void iterator.return?.(undefined)?.catch(() => undefined);
    }
  } catch (error) {
    sendError(res, error);
    return;
  } finally {
    res.off('close', onClose);
    offShutdown();
    closeStream?.();
    end?.();
    if (!res.writableEnded) res.end();
  }
}
