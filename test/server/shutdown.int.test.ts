
import { events } from '@strand/core/testing';
import { fromConnectError, } from '@strand/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { Shutdown } from '../../packages/server/src/shutdown.js';
import { cleanup, rawClient, startServer } from './harness.js';

afterAll(cleanup);

describe('shutdown', () => {
  it('ends subscriptions with their resume cursor and the tail, and lets unary calls in flight finish', async () => {
    const s = await startServer('memory', { limits: { heartbeatMs: 60_000 } });
    let closing: Promise<void> | undefined;
    try {
      await s.log.append('d/a', events(3));
      const rpc = rawClient(s.url, s.apiKey);
      // Many calls before the shutdown: none of them may leave anything registered behind.
      for (let i = 0; i < 20; i++) await rpc.getPosition({});
      const received: number[] = [];
      const subscription = (async () => {
        try {
          for await (const m of rpc.subscribe({ pattern: 'd/>', from: 1n, heartbeatMs: 60_000 })) {
            if (m.message.case === 'events') received.push(...m.message.value.events.map((e) => Number(e.position)));
          }
          return undefined;
        } catch (error) {
          return fromConnectError(error);
        }
      })();
      const tail = await fetch(`${s.url}/v1/tail?pattern=d/>&from=1`, { headers: { authorization: `Bearer ${s.apiKey}` } });
      const tailText = tail.text();
      while (received.length < 3 || s.server.openSubscriptions < 1) await new Promise((r) => setImmediate(r));
      // A unary call waiting when the shutdown begins is answered, not cut.
      const waiting = rpc.waitForPosition({ position: 4n, timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 50));
      closing = s.server.close();
      const ended = await subscription;
      expect(ended).toMatchObject({ code: 'STRAND_SUBSCRIPTION_ENDED', details: { reason: 'shutdown', resumeFrom: 4 } });
      expect(await tailText).toContain('id: 3');
      await s.log.append('d/a', events(1));
      await expect(waiting).resolves.toBeDefined();
      await closing;
      expect(s.server.openSubscriptions).toBe(0);
    } finally {
      await closing;
      await s.close();
    }
  });
});

describe('the shutdown registry', () => {
  it('calls what is registered once, forgets what left, and answers late registrations at once', () => {
    const shutdown = new Shutdown();
    const calls: string[] = [];
    shutdown.on(() => calls.push('a'));
    const off = shutdown.on(() => calls.push('b'));
    off();
    expect(shutdown.aborted).toBe(false);
    shutdown.fire();
    shutdown.fire();
    expect(calls).toEqual(['a']);
    expect(shutdown.aborted).toBe(true);
    expect(shutdown.signal.aborted).toBe(true);
    shutdown.on(() => calls.push('late'));
    expect(calls).toEqual(['a', 'late']);
  });
});
