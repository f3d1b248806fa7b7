/**
 * How a client reaches a server: the HTTP/2 session (widened receive windows, pings), the bearer
 * credential on every call, and the checks of a server URL and a key. Used by {@link connect} and
 * {@link connectAdmin} alike.
 *
 * @module
 */
import type http2 from 'node:http2';
import type { Interceptor } from '@connectrpc/connect';
import { Http2SessionManager } from '@connectrpc/connect-node';
import { InvalidArgumentError } from '@strand/core';

/**
 * HTTP/2 receive windows of the client (the protocol's default is 65,535 bytes per stream and per
 * connection): a subscription's batch of events (up to 512) fits a stream's window and the
 * batches of many subscriptions the connection's, so the server does not stop for WINDOW_UPDATEs
 * in the middle of one. Credits still bound what a subscription may have in flight.
 */
export const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 8 << 20;

/** Sessions whose connection-level window is widened (the session manager opens them). */
export class WideSessionManager extends Http2SessionManager {
  private readonly widened = new WeakSet<http2.Http2Session>();

  override async request(...args: Parameters<Http2SessionManager['request']>): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session !== undefined && !this.widened.has(session)) {
      this.widened.add(session);
      session.setLocalWindowSize(SESSION_WINDOW);
    }
    return stream;
  }
}

/** Pings and idle timeout of every session a client opens. */
export const SESSION_PINGS = { pingIntervalMs: 10_000, pingTimeoutMs: 10_000, idleConnectionTimeoutMs: 60_000 };

/** An interceptor that sends `key` as `Authorization: Bearer` on every call. */
export function bearer(key: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };
}

/** True for a key that can travel in an HTTP header: printable ASCII, no spaces, not empty. */
export function isHeaderSafeKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && /^[\x21-\x7e]+$/.test(key);
}

/** A server URL, checked: `http:` or `https:`. */
export function parseServerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`connect needs a server URL such as http://127.0.0.1:7070; got ${JSON.stringify(url)}.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgumentError(`The server URL must be http: or https:; got ${parsed.protocol}.`);
  return parsed;
}
