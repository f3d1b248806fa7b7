/**
 * The server's shutdown, as one registry of what must end when it comes: streaming calls
 * (subscriptions, group members, SSE tails). Unary calls do not listen to it: a graceful shutdown
 * lets them finish (`Connections.drained`). Design: docs/design/0013-server.md, "Shutdown".
 *
 * Not an `AbortSignal` that every call listens to: `addEventListener` / `removeEventListener` on
 * an `EventTarget` walk its listener list, so with thousands of open subscriptions each call paid
 * for all of them, and a listener per unary call cost 2-3% of a catch-up's CPU (its credit grants).
 *
 * @module
 */
import type { UniversalHandler } from '@connectrpc/connect/protocol';
import { wrapHandler } from './wrap-handler.js';

/** Streaming calls to end at shutdown, in a set: registering and leaving cost O(1). */
export class Shutdown {
  private readonly controller = new AbortController();
  private readonly waiting = new Set<() => void>();

  /** Aborted once the server shuts down (check `aborted`; do not add listeners to it per call). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True once the server shuts down. */
  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Calls `fn` at shutdown (at once if it already began); returns its removal. */
  on(fn: () => void): () => void {
    if (this.aborted) {
      fn();
      return () => {};
    }
    this.waiting.add(fn);
    return () => this.waiting.delete(fn);
  }

  /** Shuts down: every registered function runs once. */
  fire(): void {
    if (this.aborted) return;
    this.controller.abort();
    const all = [...this.waiting];
    this.waiting.clear();
    for (const fn of all) fn();
  }
}

/**
 * Wraps every streaming handler of a router so that its call's signal (`ctx.signal`) also aborts
 * at shutdown, through the registry: what connect-es's `shutdownSignal` option does, without a
 * listener on one shared signal per call.
 */
export function endStreamsOnShutdown(handlers: UniversalHandler[], shutdown: Shutdown): void {
  for (let i = 0; i < handlers.length; i++) {
    const h = handlers[i]!;
    if (h.method.methodKind === 'unary') continue;
    handlers[i] = wrapHandler(h, (req) => {
      const linked = new AbortController();
      const off = shutdown.on(() => linked.abort());
      const onRequestAbort = () => {
        off();
        linked.abort(req.signal.reason);
      };
      if (req.signal.aborted) onRequestAbort();
      // The request's own signal aborts when its stream closes, however the call ended.
      else req.signal.addEventListener('abort', onRequestAbort, { once: true });
      return h({ ...req, signal: linked.signal });
    });
  }
}
