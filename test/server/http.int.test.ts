/**
 * The server without the client: Connect JSON over plain HTTP/1.1 (`fetch`, as curl would), the SSE
 * tail with Last-Event-ID, health, readiness, metrics and authentication.
 */
import { collect } from '@strand/core/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, type Running, startServer } from './harness.js';

let s: Running;
beforeAll(async () => {
  s = await startServer('memory', { limits: { heartbeatMs: 200 } });
});
afterAll(async () => {
  await s.close();
  cleanup();
});

const rpc = (method: string, body: unknown, key: string | null = s.apiKey) =>
  fetch(`${s.url}/strand.v1.EventStoreService/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });

/** Reads SSE events from a response until `n` events arrived. */
async function sseEvents(res: Response, n: number): Promise<Array<{ id: string; data: { position: number; type: string; data: unknown } }>> {
  const reader = res.body!.getReader();
  const out: Array<{ id: string; data: { position: number; type: string; data: unknown } }> = [];
  let text = '';
  const decoder = new TextDecoder();
  while (out.length < n) {
    const r = await reader.read();
    if (r.done) break;
    text += decoder.decode(r.value, { stream: true });
    let i: number;
    while ((i = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, i);
      text = text.slice(i + 2);
      // SSE lines end at CR or LF only; a JSON string may hold U+2028 and U+2029, which `.` skips.
      const id = /^id: ([^\r\n]*)$/m.exec(block)?.[1];
      const data = /^data: ([^\r\n]*)$/m.exec(block)?.[1];
      if (id !== undefined && data !== undefined) out.push({ id, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return out;
}

describe('plain HTTP (Connect JSON, SSE)', () => {
  it('appends and reads with Connect JSON, as curl would', async () => {
    const a = await rpc('Append', { stream: 'orders/eu/o-1', events: [{ type: 'OrderPlaced', data: '{"total":42}' }], expectedVersion: 'no_stream' });
    expect(a.status).toBe(200);
    const body = (await a.json()) as { result: { version: string; position: string; events: Array<{ id: string }> } };
    expect(body.result.version).toBe('1');
    expect(body.result.events[0]!.id).toMatch(/.+/);
    const r = await rpc('ReadStream', { stream: 'orders/eu/o-1' });
    const page = (await r.json()) as { events: Array<{ type: string; data: string; version: string }>; done: boolean };
    expect(page.done).toBe(true);
    expect(page.events.map((e) => [e.type, JSON.parse(e.data), e.version])).toEqual([['OrderPlaced', { total: 42 }, '1']]);
  });

  it('answers a conflict with its Connect code and the Strand code in the details', async () => {
    const r = await rpc('Append', { stream: 'orders/eu/o-1', events: [{ type: 'X', data: '1' }], expectedVersion: '7' });
    expect(r.status).toBe(409);
    const body = (await r.json()) as { code: string; details: Array<{ type: string; debug?: { code: string } }> };
    expect(body.code).toBe('aborted');
    expect(body.details[0]!.type).toBe('strand.v1.StrandErrorDetail');
  });

  it('refuses calls without a key or with a wrong one, saying nothing else, and writes nothing', async () => {
    const before = s.log.position;
    for (const key of [null, 'wrong-key-wrong-key', `${s.apiKey}x`, `Basic ${s.apiKey}`]) {
      const r = await rpc('Append', { stream: 'x/y', events: [{ type: 'T', data: '1' }] }, key);
      expect(r.status).toBe(401);
      const body = (await r.json()) as { code: string; message: string };
      expect(body.code).toBe('unauthenticated');
      expect(body.message).not.toMatch(/x\/y|tenant|default/);
    }
    const tail = await fetch(`${s.url}/v1/tail?pattern=>`);
    expect(tail.status).toBe(401);
    await tail.body?.cancel();
    expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
    expect(s.log.position).toBe(before);
  });

  it('tails with Server-Sent Events and resumes after Last-Event-ID', async () => {
    await rpc('Append', { stream: 'tail/a', events: [{ type: 'A', data: '1' }, { type: 'B', data: '2' }] });
    const start = s.log.position - 1;
    const first = await fetch(`${s.url}/v1/tail?pattern=tail/>&from=${start}`, { headers: { authorization: `Bearer ${s.apiKey}` } });
    expect(first.headers.get('content-type')).toBe('text/event-stream');
    const got = await sseEvents(first, 2);
    expect(got.map((e) => e.data.type)).toEqual(['A', 'B']);
    // Reconnect as an EventSource would; a live event arrives after the resume point.
    const again = await fetch(`${s.url}/v1/tail?pattern=tail/>`, { headers: { authorization: `Bearer ${s.apiKey}`, 'last-event-id': got[0]!.id } });
    const live = rpc('Append', { stream: 'tail/a', events: [{ type: 'C', data: '3' }] });
    const resumed = await sseEvents(again, 2);
    await live;
    expect(resumed.map((e) => e.data.type)).toEqual(['B', 'C']);
    expect(resumed.map((e) => Number(e.id))).toEqual([start + 1, start + 2]);
  });

  it('tails each event as the JSON of the event the log holds, whatever its payload and metadata', async () => {
    const tailOne = async (from: number) => {
      const res = await fetch(`${s.url}/v1/tail?pattern=json/>&from=${from}`, { headers: { authorization: `Bearer ${s.apiKey}` } });
      return (await sseEvents(res, 1))[0]!;
    };
    const tricky = ['line\nbreak', 'sep\u2028ara\u2029tors', 'lone \ud800 surrogate', 'emoji \u{1f600}', '"quoted" \\ back'];
    const payload = fc.oneof(fc.jsonValue(), fc.constantFrom(...tricky), fc.record({ text: fc.constantFrom(...tricky), n: fc.double({ noNaN: true, noDefaultInfinity: true }) }));
    await fc.assert(
      fc.asyncProperty(payload, fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: undefined }), fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }), async (data, metadata, schemaVersion) => {
        const r = await s.log.append('json/e', [{ type: 'T', data, ...(metadata === undefined ? {} : { metadata }), ...(schemaVersion === undefined ? {} : { schemaVersion }) }]);
        const got = await tailOne(r.position);
        const [stored] = await collect(s.log.readAll({ from: r.position, limit: 1 }));
        expect(got.id).toBe(String(r.position));
        expect(got.data).toEqual(JSON.parse(JSON.stringify(stored)));
      }),
      { numRuns: 40 },
    );
  });

  it('serves health, readiness and metrics', async () => {
    expect(await (await fetch(`${s.url}/healthz`)).text()).toBe('ok\n');
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const m = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.server.adminKey}` } });
    const text = await m.text();
    expect(text).toMatch(/strand_server_requests_total\{method="Append",code="ok"\} \d+/);
    expect(text).toMatch(/strand_server_request_duration_seconds_bucket/);
  });
});
