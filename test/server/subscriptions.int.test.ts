
import { connect } from '@strand/client';
import { EventLog, type RecordedEvent } from '@strand/core';
import { collect, errorCode, events } from '@strand/core/testing';
import { fromConnectError, } from '@strand/protocol';
import { createServer } from '@strand/server';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, rawClient, startServer, tempDir } from './harness.js';

afterAll(cleanup);

describe('subscriptions', () => {
  it('sends no more than the credits granted, then ends a stalled subscriber with its resume cursor', async () => {
    const s = await startServer('memory', { limits: { heartbeatMs: 100, subscriberStallMs: 600 } });
    try {
      await s.log.append('c/a', events(30));
      const rpc = rawClient(s.url, s.apiKey);
      const received: number[] = [];
      let heartbeats = 0;
      let ended: unknown;
      try {
        for await (const m of rpc.subscribe({ pattern: 'c/>', from: 1n, credits: 10, heartbeatMs: 100 })) {
          if (m.message.case === 'events') received.push(...m.message.value.events.map((e) => Number(e.position)));
          if (m.message.case === 'heartbeat') heartbeats++;
        }
      } catch (error) {
        ended = fromConnectError(error);
      }
      expect(received).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect(heartbeats).toBeGreaterThan(0);
      expect((ended as { code?: string }).code).toBe('STRAND_SUBSCRIPTION_ENDED');
      expect((ended as { details: { resumeFrom: number; reason: string } }).details).toMatchObject({ resumeFrom: 11, reason: 'slow-consumer' });
      expect(s.server.openSubscriptions).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('keeps delivering to a subscriber that grants credits, past many windows', async () => {
    const s = await startServer('memory');
    try {
      await s.log.append('w/a', events(2_500));
      const client = s.client({ subscriptionWindow: 64 });
      const seen: number[] = [];
      const abort = new AbortController();
      for await (const e of client.follow('w/>', { signal: abort.signal })) {
        seen.push(e.position);
        if (seen.length === 2_500) abort.abort();
      }
      expect(seen).toEqual(Array.from({ length: 2_500 }, (_, i) => i + 1));
    } finally {
      await s.close();
    }
  });

  it('survives a server restart: the subscription resumes with no gap and no duplicate', async () => {
    const dir = tempDir();
    const open = () => EventLog.open({ store: new ClassicLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    const apiKey = 'restart-test-key-0123456789';
    let log = await open();
    let server = createServer({ log, apiKeys: apiKey, limits: { heartbeatMs: 200 } });
    const url = await server.listen();
    const port = server.port;
    const client = connect({ url, apiKey, heartbeatMs: 200, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const seen: RecordedEvent[] = [];
    const abort = new AbortController();
    let total = 0;
    const writer = connect({ url, apiKey, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const done = (async () => {
      for await (const e of client.follow('r/>', { from: 1, signal: abort.signal })) {
        seen.push(e);
        if (seen.length === total) abort.abort();
      }
    })();
    for (let i = 0; i < 10; i++) await writer.append(`r/${i % 3}`, events(5));
    await server.close();
    await log.close();
    log = await open();
    server = createServer({ log, apiKeys: apiKey, limits: { heartbeatMs: 200 } });
    await server.listen({ port });
    for (let i = 0; i < 10; i++) await writer.append(`r/${i % 3}`, events(5));
    total = 100;
    if (seen.length === total) abort.abort();
    await done;
    expect(seen.map((e) => e.position)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await client.close();
    await writer.close();
    await server.close();
    await log.close();
  });
});

describe('limits', () => {
  it('answers every limit with its typed error and writes nothing', async () => {
    const s = await startServer('memory', { limits: { eventsPerAppend: 5, requestBytes: 4096, streamsPerConnection: 2, requestTimeoutMs: 300 } });
    try {
      const c = s.client();
      const tooMany = await collectError(c.append('l/a', events(6)));
      expect(tooMany).toMatchObject({ code: 'STRAND_LIMIT_EXCEEDED', details: { limit: 'eventsPerAppend', max: 5 } });
      expect(await errorCode(c.append('l/a', [{ type: 'T', data: 'x'.repeat(10_000) }]))).toBe('STRAND_LIMIT_EXCEEDED');
      const subs = [c.follow('a/>')[Symbol.asyncIterator](), c.follow('b/>')[Symbol.asyncIterator]()];
      const pending = subs.map((it) => it.next());
      await s.log.append('a/x', events(1));
      await s.log.append('b/x', events(1));
      await Promise.all(pending);
      expect(await errorCode(collect(c.follow('c/>')))).toBe('STRAND_LIMIT_EXCEEDED');
      for (const it of subs) await it.return?.();
      expect(await errorCode(c.waitForPosition(1_000, 5_000))).toBe('STRAND_TIMEOUT');
      expect(s.log.position).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('limits the connections a tenant has in use', async () => {
    const s = await startServer('memory', { limits: { connectionsPerTenant: 1, requestTimeoutMs: 2_000 } });
    try {
      const a = s.client();
      const b = s.client();
      const waiting = a.waitForPosition(1, 1_500);
      await a.headPosition().catch(() => undefined);
      expect(await errorCode(b.headPosition())).toBe('STRAND_LIMIT_EXCEEDED');
      await s.log.append('x/y', events(1));
      await waiting;
      expect(await b.headPosition()).toBe(1);
    } finally {
      await s.close();
    }
  });
});

async function collectError(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
