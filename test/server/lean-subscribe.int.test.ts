/**
 * The lean `Subscribe` path (Connect binary, uncompressed: what @strand/client speaks) against
 * connect-es (gRPC, or Connect with compression): the same stream for the same subscription,
 * events and end-stream errors alike; and the lean path's own limits, authentication, slow
 * subscribers and shutdown. Design: docs/design/0013-server.md, "Idle subscriptions".
 */
import http2 from 'node:http2';
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { connect } from '@strand/client';
import { compilePattern, type EventInput, type RecordedEvent } from '@strand/core';
import { TenantManager } from '@strand/core/tenancy';
import { StrandErrorDetailSchema, toWireEvent, wire } from '@strand/protocol';
import { createServer } from '@strand/server';
import fc from 'fast-check';
import { MemoryLevel } from 'memory-level';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectSubscribe } from '../../packages/server/src/connect-subscribe.js';
import { allGrants, cleanup, type Running, startServer } from './harness.js';

afterAll(cleanup);
afterEach(() => {
  vi.restoreAllMocks();
});

const bearer =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };

type Rpc = Client<typeof wire.EventStoreService>;

/** Connect binary without compression: the lean path. */
function leanClient(url: string, key: string): Rpc {
  return createClient(wire.EventStoreService, createConnectTransport({ baseUrl: url, httpVersion: '2', acceptCompression: [], interceptors: [bearer(key)] }));
}

/** gRPC: connect-es. */
function grpcClient(url: string, key: string): Rpc {
  return createClient(wire.EventStoreService, createGrpcTransport({ baseUrl: url, interceptors: [bearer(key)] }) as Transport);
}

/** Connect binary accepting gzip: connect-es. */
function gzipClient(url: string, key: string): Rpc {
  return createClient(wire.EventStoreService, createConnectTransport({ baseUrl: url, httpVersion: '2', interceptors: [bearer(key)] }));
}

interface Seen {
  started?: { head: bigint; heartbeatMs: number };
  events: wire.RecordedEvent[];
  error?: { code: Code; message: string; detail?: { code: string; kind: string; details: unknown } };
}

function summarize(error: unknown): NonNullable<Seen['error']> {
  const e = ConnectError.from(error);
  const d = e.findDetails(StrandErrorDetailSchema)[0];
  return { code: e.code, message: e.rawMessage, ...(d === undefined ? {} : { detail: { code: d.code, kind: d.kind, details: JSON.parse(d.details) as unknown } }) };
}

/** Reads a subscription until `want` events arrived (then cancels; 0: once started) or the server ends it. */
async function take(rpc: Rpc, req: MessageInitShape<typeof wire.SubscribeRequestSchema>, want: number): Promise<Seen> {
  const abort = new AbortController();
  const seen: Seen = { events: [] };
  try {
    for await (const m of rpc.subscribe(req, { signal: abort.signal })) {
      if (m.message.case === 'started') {
        seen.started = { head: m.message.value.head, heartbeatMs: m.message.value.heartbeatMs };
        if (want === 0) abort.abort();
      }
      if (m.message.case === 'events') {
        seen.events.push(...m.message.value.events);
        if (seen.events.length >= want) abort.abort();
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) seen.error = summarize(error);
  }
  return seen;
}

/** Counts the calls the lean path serves. */
function countLean(): { readonly calls: number } {
  const spy = vi.spyOn(ConnectSubscribe.prototype, 'serve');
  return {
    get calls() {
      return spy.mock.calls.length;
    },
  };
}

const SUFFIXES = ['a', 'b', 'a/x', 'b/x', 'a/y/z'] as const;
const PATTERNS = ['>', 'a', '*', 'a/>', '*/x', 'b/>', 'a/*/z', 'nothing', '>/bad'] as const;

describe('lean Subscribe path', () => {
  it('delivers the same stream as connect-es: events, started, end-stream errors with code and details (property)', async () => {
    const s = await startServer('leveldb', { limits: { subscriberStallMs: 300, heartbeatMs: 100 } });
    const lean = countLean();
    try {
      const viaLean = leanClient(s.url, s.apiKey);
      const viaGrpc = grpcClient(s.url, s.apiKey);
      const viaGzip = gzipClient(s.url, s.apiKey);
      let run = 0;
      let leanCalls = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              suffix: fc.constantFrom(...SUFFIXES),
              data: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
              metadata: fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }), { nil: undefined }),
            }),
            { minLength: 1, maxLength: 40 },
          ),
          fc.constantFrom(...PATTERNS),
          fc.nat(),
          fc.integer({ min: 1, max: 50 }),
          async (written, patternTail, fromOffset, credits) => {
            const prefix = `run${run++}`;
            const start = s.log.position + 1;
            for (const w of written) {
              const e: EventInput = { type: 'T', data: w.data, ...(w.metadata === undefined ? {} : { metadata: w.metadata }) };
              await s.log.append(`${prefix}/${w.suffix}`, [e]);
            }
            const pattern = `${prefix}/${patternTail}`;
            const from = start + (fromOffset % (written.length + 2));
            let matches: ((stream: string) => boolean) | undefined;
            try {
              matches = compilePattern(pattern).matches;
            } catch {
              matches = undefined;
            }
            const matching: number[] | undefined = matches === undefined ? undefined : [];
            if (matches !== undefined) for await (const e of s.log.readAll({ from })) if (matches(e.stream)) matching!.push(e.position);
            // Credits at most what matches: the server ends the stalled subscriber (a typed error
            // with its cursor). More: every event arrives and the subscriber leaves.
            const want = matching === undefined || credits <= matching.length ? Number.POSITIVE_INFINITY : matching.length;
            const req = { pattern, from: BigInt(from), credits, heartbeatMs: 100 };
            const before = lean.calls;
            const [a, b, c] = await Promise.all([take(viaLean, req, want), take(viaGrpc, req, want), take(viaGzip, req, want)]);
            leanCalls += lean.calls - before;
            expect(b).toEqual(a);
            expect(c).toEqual(a);
            if (matching === undefined) {
              expect(a.error).toMatchObject({ code: Code.InvalidArgument, detail: { code: 'STRAND_INVALID_PATTERN' } });
              return;
            }
            const delivered = matching.slice(0, Math.min(credits, matching.length));
            expect(a.events.map((e) => Number(e.position))).toEqual(delivered);
            for (const e of a.events) expect(e).toEqual(create(wire.RecordedEventSchema, toWireEvent(await eventAt(s, Number(e.position)))));
            if (want === Number.POSITIVE_INFINITY) {
              const resumeFrom = delivered.length === 0 ? from : delivered[delivered.length - 1]! + 1;
              expect(a.error).toEqual({
                code: Code.Unavailable,
                message: expect.any(String) as string,
                detail: { code: 'STRAND_SUBSCRIPTION_ENDED', kind: 'unavailable', details: { reason: 'slow-consumer', resumeFrom } },
              });
            }
          },
        ),
        { numRuns: 25 },
      );
      // Each run: one subscription through the lean path, two through connect-es.
      expect(leanCalls).toBe(25);
      while (s.server.openSubscriptions > 0) await new Promise((r) => setImmediate(r));
    } finally {
      await s.close();
    }
  });

  it('answers malformed request bodies with the errors connect-es gives', async () => {
    const s = await startServer('memory');
    const lean = countLean();
    try {
      const envelope = (flags: number, body: Uint8Array) => {
        const b = Buffer.alloc(5 + body.length);
        b[0] = flags;
        b.writeUInt32BE(body.length, 1);
        b.set(body, 5);
        return b;
      };
      const request = Buffer.from([0x0a, 0x01, 0x3e]); // pattern: '>'
      const bodies = [
        Buffer.alloc(0),
        Buffer.from([0, 0, 0]),
        envelope(0, Buffer.from([0xff, 0xff, 0xff])),
        Buffer.concat([envelope(0, request), envelope(0, request)]),
        envelope(1, request),
        Buffer.concat([envelope(0, request), Buffer.from([0, 0])]),
      ];
      for (const body of bodies) {
        const viaLean = await rawCall(s, body, {});
        const viaConnectEs = await rawCall(s, body, { 'connect-accept-encoding': 'gzip' });
        expect(viaLean).toEqual(viaConnectEs);
        expect(viaLean.status).toBe(200);
        expect(viaLean.end).toHaveProperty('error');
      }
      expect(lean.calls).toBe(bodies.length);
    } finally {
      await s.close();
    }
  });

  it('refuses missing, bad and other tenants\' keys and bad patterns, and hides streams outside the grants, as connect-es does', async () => {
    const tenants = await TenantManager.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    await tenants.createTenant('acme');
    await tenants.createTenant('globex');
    const narrow = await tenants.createPrincipal('acme', [{ permission: 'subscribe', pattern: 'open/>' }]);
    const wide = await tenants.createPrincipal('acme', allGrants);
    const other = await tenants.createPrincipal('globex', [{ permission: 'read', pattern: '>' }]);
    const server = createServer({ tenants });
    const url = await server.listen();
    const lean = countLean();
    try {
      const cases: [string, MessageInitShape<typeof wire.SubscribeRequestSchema>][] = [
        ['', { pattern: 'open/>' }],
        ['not-a-key-at-all-0123456789', { pattern: 'open/>' }],
        [other.apiKey, { pattern: 'open/>' }],
        [narrow.apiKey, { pattern: 'bad/>/pattern' }],
      ];
      for (const [key, req] of cases) {
        const a = await take(leanClient(url, key), { ...req, credits: 10 }, 1);
        const b = await take(grpcClient(url, key), { ...req, credits: 10 }, 1);
        expect(a).toEqual(b);
        expect(a.error?.code).toBe([Code.Unauthenticated, Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument][cases.findIndex((c) => c[1] === req)]);
        expect(a.events).toEqual([]);
      }
      // A grant narrower than the pattern: only the streams it covers, as in process.
      const writer = connect({ url, apiKey: wide.apiKey });
      await writer.append('secret/x', [{ type: 'T', data: 1 }]);
      await writer.append('open/x', [{ type: 'T', data: 2 }]);
      await writer.close();
      const a = await take(leanClient(url, narrow.apiKey), { pattern: '>', credits: 10 }, 1);
      const b = await take(grpcClient(url, narrow.apiKey), { pattern: '>', credits: 10 }, 1);
      expect(a).toEqual(b);
      expect(a.events.map((e) => e.stream)).toEqual(['open/x']);
      const ok = await take(leanClient(url, wide.apiKey), { pattern: 'open/>', credits: 10, heartbeatMs: 100 }, 0);
      expect(ok.error).toBeUndefined();
      expect(lean.calls).toBe(cases.length + 2);
      // Every subscription left (the client cancelled the last ones): nothing stays registered.
      while (server.openSubscriptions > 0) await new Promise((r) => setImmediate(r));
    } finally {
      await server.close();
      await tenants.close();
    }
  });

  it('leaves HTTP/1.1 to connect-es', async () => {
    const s = await startServer('memory');
    const lean = countLean();
    try {
      await s.log.append('h/a', [{ type: 'T', data: 1 }]);
      const h1 = createClient(wire.EventStoreService, createConnectTransport({ baseUrl: s.url, httpVersion: '1.1', acceptCompression: [], interceptors: [bearer(s.apiKey)] }));
      const seen = await take(h1, { pattern: 'h/>', from: 1n, credits: 10 }, 1);
      expect(seen.events.map((e) => e.stream)).toEqual(['h/a']);
      expect(lean.calls).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('counts its streams against the connection limit', async () => {
    const s = await startServer('memory', { limits: { streamsPerConnection: 2 } });
    const lean = countLean();
    try {
      const rpc = leanClient(s.url, s.apiKey);
      const aborts = [new AbortController(), new AbortController()];
      const open = aborts.map((a) => rpc.subscribe({ pattern: 'x/>', credits: 10 }, { signal: a.signal })[Symbol.asyncIterator]());
      await Promise.all(open.map((it) => it.next()));
      const third = await take(rpc, { pattern: 'x/>', credits: 10 }, 1);
      expect(third.error).toMatchObject({ code: Code.ResourceExhausted, detail: { code: 'STRAND_LIMIT_EXCEEDED', details: { limit: 'streamsPerConnection', max: 2 } } });
      for (const a of aborts) a.abort();
      // A closed stream frees its place.
      while (s.server.openSubscriptions > 0) await new Promise((r) => setImmediate(r));
      const again = await take(rpc, { pattern: 'x/>', credits: 10, heartbeatMs: 100 }, 0);
      expect(again.error).toBeUndefined();
      expect(lean.calls).toBe(4);
    } finally {
      await s.close();
    }
  });

  it('cancels the stream of a subscriber whose connection stops reading, and frees it', async () => {
    const s = await startServer('memory', { limits: { subscriberStallMs: 300 } });
    const lean = countLean();
    try {
      // More than the windows and buffers between server and a client that reads nothing.
      for (let i = 0; i < 20; i++) await s.log.append('big/a', Array.from({ length: 50 }, () => ({ type: 'T', data: 'x'.repeat(2_000) })));
      const session = http2.connect(s.url);
      const stream = session.request({
        ':method': 'POST',
        ':path': '/strand.v1.EventStoreService/Subscribe',
        'content-type': 'application/connect+proto',
        authorization: `Bearer ${s.apiKey}`,
      });
      stream.end(Buffer.from([0, 0, 0, 0, 7, 0x0a, 0x05, ...Buffer.from('big/>')]));
      stream.pause();
      const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode)));
      stream.on('error', () => undefined);
      expect(await closed).toBe(http2.constants.NGHTTP2_CANCEL);
      while (s.server.openSubscriptions > 0) await new Promise((r) => setImmediate(r));
      session.destroy();
      expect(lean.calls).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('ends its subscriptions at shutdown with their resume cursor', async () => {
    const s = await startServer('memory', { limits: { heartbeatMs: 60_000 } });
    const lean = countLean();
    let closing: Promise<void> | undefined;
    try {
      await s.log.append('d/a', Array.from({ length: 3 }, () => ({ type: 'T', data: {} })));
      const seen = take(leanClient(s.url, s.apiKey), { pattern: 'd/>', from: 1n, heartbeatMs: 60_000 }, Number.POSITIVE_INFINITY);
      while (s.server.openSubscriptions < 1) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 50));
      closing = s.server.close();
      const ended = await seen;
      expect(ended.events.map((e) => Number(e.position))).toEqual([1, 2, 3]);
      expect(ended.error).toMatchObject({ code: Code.Unavailable, detail: { code: 'STRAND_SUBSCRIPTION_ENDED', details: { reason: 'shutdown', resumeFrom: 4 } } });
      await closing;
      expect(s.server.openSubscriptions).toBe(0);
      expect(lean.calls).toBe(1);
    } finally {
      await closing;
      await s.close();
    }
  });
});

async function eventAt(s: Running, position: number): Promise<RecordedEvent> {
  for await (const e of s.log.readAll({ from: position, to: position })) return e;
  throw new Error(`no event at ${position}`);
}

/** One Subscribe request with a hand-made body: the status and the parsed end-stream message. */
async function rawCall(s: Running, body: Buffer, headers: Record<string, string>): Promise<{ status: number; contentType: unknown; end: unknown }> {
  const session = http2.connect(s.url);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/strand.v1.EventStoreService/Subscribe',
      'content-type': 'application/connect+proto',
      authorization: `Bearer ${s.apiKey}`,
      ...headers,
    });
    stream.end(body);
    const [status, contentType] = await new Promise<[number, unknown]>((resolve) => stream.once('response', (h) => resolve([Number(h[':status']), h['content-type']])));
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const all = Buffer.concat(chunks);
    // The last envelope is the end-stream message (flag 2), JSON.
    let pos = 0;
    let end: unknown;
    while (pos + 5 <= all.length) {
      const len = all.readUInt32BE(pos + 1);
      if ((all[pos]! & 2) === 2) end = JSON.parse(all.subarray(pos + 5, pos + 5 + len).toString());
      pos += 5 + len;
    }
    return { status, contentType, end };
  } finally {
    session.destroy();
  }
}
