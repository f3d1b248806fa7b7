/**
 * The options of {@link connect}.
 *
 * @module
 */
import type { AnyLevel } from '@strand/core';

/** Reconnection of subscriptions (and retries of calls that failed to reach the server). */
export interface ReconnectOptions {
  /** First delay, ms. Default 50. */
  initialDelayMs?: number;
  /** Longest delay, ms. Default 5,000. */
  maxDelayMs?: number;
  /** Attempts in a row before giving up with the last error. Default: unlimited for subscriptions. */
  maxAttempts?: number;
}

/** Options of {@link connect}. */
export interface ClientOptions {
  /** The server's URL, e.g. `http://127.0.0.1:7070` or `https://strand.example:7070`. */
  url: string;
  /** The API key (`Authorization: Bearer`). */
  apiKey: string;
  /** Wire protocol: `connect` (default, binary protobuf over HTTP/2) or `grpc`. */
  protocol?: 'connect' | 'grpc';
  /** Extra trusted CA certificates (PEM), e.g. for a self-signed server certificate. */
  ca?: string | Buffer;
  /**
   * Where `sublevel()` keeps components' local state (aggregate snapshots, projection
   * checkpoints and read models). Default: a memory-level store, lost on close.
   */
  state?: AnyLevel;
  /** Subscription reconnects. */
  reconnect?: ReconnectOptions;
  /** Events a subscription may have in flight before it grants more credits. Default 1,024. */
  subscriptionWindow?: number;
  /** Heartbeat interval subscriptions ask the server for, ms. Default 5,000; 3 missed = reconnect. */
  heartbeatMs?: number;
  /** How often a call that could not reach the server is retried (appends keep their event ids). Default 3. */
  callRetries?: number;
  /**
   * Accept gzip-compressed responses (large reads over a slow network). Default false: on a LAN
   * or loopback compressing every response costs the server more CPU than the bytes it saves.
   * With it, unary calls also go through connect-es on both sides instead of the lean unary path
   * (docs/design/0013-server.md, "The lean unary path").
   */
  compression?: boolean;
}
