/**
 * The lean unary path (docs/design/0013-server.md, "The lean unary path"): Connect binary unary
 * calls served without connect-es's per-call pipeline on the server (`packages/server/src/unary.ts`)
 * and sent without it by the client (`packages/client/src/unary-transport.ts`). Both must give what
 * connect-es gives: the same answer bytes for the same request, the same results and errors.
 *
 * A request with `accept-encoding: identity` (or any `accept-encoding`) is served by connect-es
 * (the lean path does not compress), with the same meaning: the twin of a lean request.
 */
import http2 from 'node:http2';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { connect, type StrandClient } from '@strand/client';
import { type EventInput, type ExpectedVersion, isStrandError, StrandError } from '@strand/core';
import { collect } from '@strand/core/testing';
import { fromConnectError, StrandErrorDetailSchema, wire } from '@strand/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leanTransport } from '../../packages/client/src/unary-transport.js';
import { allGrants, cleanup, type Running, startServer, tenantServer } from './harness.js';

afterAll(cleanup);

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

/** One HTTP/2 request on a fresh session; the answer without its `date` header. */
function h2(url: string, path: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array | Uint8Array[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    let head: Record<string, unknown> = {};
    req.on('response', (h) => {
      status = Number(h[':status']);
      const { date: _date, ':status': _s, ...rest } = h;
      head = rest;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ status, headers: head, body: Buffer.concat(chunks) });
    });
    req.on('error', reject);
    const parts = Array.isArray(body) ? body : [body];
    for (const p of parts) req.write(p);
    req.end();
  });
}

/** A generated case as text (bigints too) for assertion messages. */
const label = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));

const json = (a: Answer) => JSON.parse(a.body.toString('utf8')) as { code: string; message: string; details?: unknown[] };

describe('the lean path answers what connect-es answers, byte for byte', () => {
  let s: Running;
  const LIMIT = 2048;
  beforeAll(async () => {
    s = await startServer('memory', { limits: { requestBytes: LIMIT } });
    await s.log.append('w/a', [{ type: 'A', data: { n: 1 } }]);
  });
  afterAll(() => s.close());

  /** The same request on the lean path and on connect-es's; both answers, and whether the lean path took the first. */
  async function twins(method: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array | Uint8Array[], service = 'strand.v1.EventStoreService') {
    const path = `/${service}/${method}`;
    const base = { 'content-type': 'application/proto', 'connect-protocol-version': '1', ...headers };
    const before = s.server.leanUnaryCalls;
    const lean = await h2(s.url, path, base, body);
    const tookLean = s.server.leanUnaryCalls - before;
    const es = await h2(s.url, path, { ...base, 'accept-encoding': 'identity' }, body);
    expect(s.server.leanUnaryCalls - before, 'the twin went to connect-es').toBe(tookLean);
    return { lean, es, tookLean };
  }
  const auth = () => ({ authorization: `Bearer ${s.apiKey}` });
  const bytes = <T extends Parameters<typeof create>[0]>(schema: T, init: Parameters<typeof create<T>>[1]) => toBinary(schema, create(schema, init));

  it('reads: the same message bytes and headers', async () => {
    for (const [method, body] of [
      ['ReadStream', bytes(wire.ReadStreamRequestSchema, { stream: 'w/a' })],
      ['GetStreamInfo', bytes(wire.GetStreamInfoRequestSchema, { stream: 'w/a' })],
      ['GetStreamInfo', bytes(wire.GetStreamInfoRequestSchema, { stream: 'w/none' })],
      ['GetPosition', new Uint8Array()],
      ['ListChildren', bytes(wire.ListChildrenRequestSchema, { prefix: '' })],
    ] as const) {
      const { lean, es, tookLean } = await twins(method, auth(), body);
      expect(tookLean, method).toBe(1);
      expect(lean.status, method).toBe(200);
      expect(lean.headers['content-type']).toBe('application/proto');
      expect(lean, method).toEqual(es);
    }
  });

  it('errors: missing and bad keys, denied input, malformed protobuf, bad deadlines, the same JSON error bodies', async () => {
    const read = bytes(wire.ReadStreamRequestSchema, { stream: 'w/a' });
    const cases: [string, http2.OutgoingHttpHeaders, Uint8Array, number, string][] = [
      ['ReadStream', {}, read, 401, 'unauthenticated'],
      ['ReadStream', { authorization: 'Bearer not-the-key-0123456789' }, read, 401, 'unauthenticated'],
      ['ReadStream', { authorization: 'Basic abc' }, read, 401, 'unauthenticated'],
      ['ReadStream', { ...auth(), 'connect-timeout-ms': 'soon' }, read, 400, 'invalid_argument'],
      ['ReadStream', { ...auth(), 'connect-timeout-ms': '12345678901' }, read, 400, 'invalid_argument'],
      // A field 1 (stream) with a length running past the end of the body.
      ['Append', auth(), new Uint8Array([0x0a, 0x7f, 0x61]), 400, 'invalid_argument'],
      ['Append', auth(), bytes(wire.AppendRequestSchema, { stream: 'bad//name', events: [{ type: 'A', data: '1' }] }), 400, 'invalid_argument'],
      ['Append', auth(), bytes(wire.AppendRequestSchema, { stream: 'w/b', events: [{ type: 'A', data: '{not json' }] }), 400, 'invalid_argument'],
      ['ReadStream', auth(), bytes(wire.ReadStreamRequestSchema, { stream: 'w/a', from: 2n ** 60n }), 400, 'invalid_argument'],
    ];
    for (const [method, headers, body, status, code] of cases) {
      const { lean, es, tookLean } = await twins(method, headers, body);
      const label = `${method} ${JSON.stringify(headers)}`;
      expect(tookLean, label).toBe(1);
      expect(lean.status, label).toBe(status);
      expect(lean.headers['content-type'], label).toBe('application/json');
      expect(json(lean).code, label).toBe(code);
      expect(lean, label).toEqual(es);
    }
    const malformed = json((await twins('Append', auth(), new Uint8Array([0x0a, 0x7f, 0x61]))).lean);
    expect(malformed.message).toMatch(/^Malformed request/);
    expect(malformed.details).toHaveLength(1);
    // Nothing was written by any of them.
    expect(s.log.position).toBe(1);
  });

  it('bodies over the limit: refused by content-length before reading, or when the bytes pass the limit', async () => {
    const big = new Uint8Array(LIMIT + 100);
    const known = await twins('Append', { ...auth(), 'content-length': String(big.byteLength) }, big);
    expect(known.tookLean).toBe(1);
    expect(known.lean.status).toBe(429);
    expect(json(known.lean)).toEqual({ code: 'resource_exhausted', message: `message size ${LIMIT + 100} is larger than configured readMaxBytes ${LIMIT}` });
    expect(known.lean).toEqual(known.es);
    // No content-length: the body arrives in pieces until it passes the limit.
    const pieces = [new Uint8Array(1500), new Uint8Array(1500), new Uint8Array(1500)];
    const streamed = await twins('Append', auth(), pieces);
    expect(streamed.lean.status).toBe(429);
    expect(json(streamed.lean)).toEqual({ code: 'resource_exhausted', message: `message size is larger than configured readMaxBytes ${LIMIT}` });
    expect(streamed.lean).toEqual(streamed.es);
    expect(s.log.position).toBe(1);
    // The server still serves the session's neighbours and new calls.
    expect((await twins('GetPosition', auth(), new Uint8Array())).lean.status).toBe(200);
  });

  it('a deadline that expires: DEADLINE_EXCEEDED with STRAND_TIMEOUT on both paths', async () => {
    const wait = bytes(wire.WaitForPositionRequestSchema, { position: 1000n, timeoutMs: 60_000 });
    const { lean, es, tookLean } = await twins('WaitForPosition', { ...auth(), 'connect-timeout-ms': '100' }, wait);
    expect(tookLean).toBe(1);
    expect(lean.status).toBe(504);
    const [a, b] = [json(lean), json(es)];
    expect(a.code).toBe('deadline_exceeded');
    // The remaining time is measured when the call starts: it may differ by a millisecond.
    const noMs = (x: unknown) => JSON.parse(JSON.stringify(x).replace(/\d+ ms/g, 'N ms'));
    expect(noMs({ ...a, details: undefined })).toEqual(noMs({ ...b, details: undefined }));
    expect(fromConnectError(new ConnectError(a.message, Code.DeadlineExceeded)).code).toBe('STRAND_TIMEOUT');
  });

  it('methods it does not serve go to connect-es: unknown methods, streams, JSON, GET, HTTP/1.1', async () => {
    const unknown = await twins('Nope', auth(), new Uint8Array());
    expect(unknown.tookLean).toBe(0);
    expect(unknown.lean.status).toBe(404);
    const before = s.server.leanUnaryCalls;
    const sub = await h2(s.url, '/strand.v1.EventStoreService/Subscribe', { ...auth(), 'content-type': 'application/proto' }, bytes(wire.SubscribeRequestSchema, { pattern: '>' }));
    // A server stream asked for with a unary content type: connect-es's 415.
    expect(sub.status).toBe(415);
    const viaJson = await h2(s.url, '/strand.v1.EventStoreService/GetPosition', { ...auth(), 'content-type': 'application/json' }, Buffer.from('{}'));
    expect(viaJson.status).toBe(200);
    const h1 = await fetch(`${s.url}/strand.v1.EventStoreService/GetPosition`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/proto' }, body: new Uint8Array() });
    expect(h1.status).toBe(200);
    expect(s.server.leanUnaryCalls).toBe(before);
  });

  it('other services answer on the lean path too', async () => {
    const who = await twins('WhoAmI', auth(), new Uint8Array(), 'strand.v1.InfoService');
    expect(who.tookLean).toBe(1);
    expect(who.lean.status).toBe(200);
    expect(who.lean).toEqual(who.es);
  });
});

/** A lean transport and a plain connect-es one (binary, no compression) on separate sessions. */
function transports(url: string, apiKey: string) {
  const sessions = new Http2SessionManager(url);
  const plain = createConnectTransport({
    baseUrl: url,
    httpVersion: '2',
    useBinaryFormat: true,
    acceptCompression: [],
    interceptors: [
      (next) => (req) => {
        req.header.set('authorization', `Bearer ${apiKey}`);
        return next(req);
      },
    ],
  });
  const lean = leanTransport({ baseUrl: url, sessions, apiKey, readMaxBytes: 64 << 20, fallback: plain });
  return { lean, plain, close: () => sessions.abort() };
}

describe('the lean client transport', () => {
  let s: Running;
  let t: ReturnType<typeof transports>;
  beforeAll(async () => {
    s = await startServer('memory', { limits: { requestBytes: 4096 } });
    t = transports(s.url, s.apiKey);
  });
  afterAll(async () => {
    t.close();
    await s.close();
  });

  /** A call's outcome as connect-es reports it: the message, or the error's code, message and details. */
  async function outcome(p: Promise<unknown>): Promise<unknown> {
    try {
      return { ok: await p };
    } catch (e) {
      const ce = ConnectError.from(e);
      return { code: Code[ce.code], message: ce.rawMessage, details: ce.findDetails(StrandErrorDetailSchema) };
    }
  }

  it('gives the results and errors connect-es gives, over random calls (fast-check)', async () => {
    const lean = createClient(wire.EventStoreService, t.lean);
    const plain = createClient(wire.EventStoreService, t.plain);
    const stream = fc.constantFrom('p/a', 'p/b', 'p/a/c', 'bad//name', '', 'p/>');
    const data = fc.oneof(fc.constant('{not json'), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v ?? null)));
    const call = fc.oneof(
      fc.record({ op: fc.constant('readStream' as const), stream, from: fc.bigInt({ min: 0n, max: 5n }), backwards: fc.boolean(), limit: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ op: fc.constant('getStreamInfo' as const), stream }),
      fc.record({ op: fc.constant('readAll' as const), pattern: fc.constantFrom('p/>', '>', 'p/*', 'bad pattern!', '') }),
      fc.record({ op: fc.constant('listChildren' as const), prefix: fc.constantFrom('', 'p', 'p/a', 'bad//') }),
      // Over the 4 KiB request limit: refused on both paths, nothing written.
      fc.record({ op: fc.constant('bigAppend' as const), n: fc.integer({ min: 4200, max: 9000 }) }),
      fc.record({ op: fc.constant('badExpected' as const), stream, v: fc.integer({ min: 2, max: 9 }), data }),
    );
    // Random appends first (through the lean path), then every read and bad call through both.
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ stream, data }), { maxLength: 4 }), fc.array(call, { minLength: 1, maxLength: 6 }), async (appends, calls) => {
        // Some of them fail (bad names, bad JSON); the reads below see what the others wrote.
        for (const a of appends) await outcome(lean.append({ stream: a.stream, events: [{ type: 'T', data: a.data }] }));
        for (const c of calls) {
          const run = (rpc: typeof lean) => {
            switch (c.op) {
              case 'readStream':
                return rpc.readStream({ stream: c.stream, from: c.from, backwards: c.backwards, limit: c.limit });
              case 'getStreamInfo':
                return rpc.getStreamInfo({ stream: c.stream });
              case 'readAll':
                return rpc.readAll({ pattern: c.pattern, to: 1_000_000n });
              case 'listChildren':
                return rpc.listChildren({ prefix: c.prefix });
              case 'bigAppend':
                return rpc.append({ stream: 'p/big', events: [{ type: 'T', data: JSON.stringify('x'.repeat(c.n)) }] });
              case 'badExpected':
                return rpc.append({ stream: c.stream, expectedVersion: c.v === 9 ? 'nonsense' : String(c.v + 1000), events: [{ type: 'T', data: c.data }] });
            }
          };
          const [a, b] = [await outcome(run(lean)), await outcome(run(plain))];
          expect(a, label(c)).toEqual(b);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('reads answers that are not Connect messages as connect-es does (a method the server does not have: HTTP 404)', async () => {
    const nope = { ...wire.EventStoreService.method.getPosition, name: 'Nope' };
    const [a, b] = [await outcome(t.lean.unary(nope, undefined, undefined, undefined, {})), await outcome(t.plain.unary(nope, undefined, undefined, undefined, {}))];
    expect(a).toEqual({ code: 'Unimplemented', message: 'HTTP 404', details: [] });
    expect(a).toEqual(b);
  });

  it('keeps a deadline: DEADLINE_EXCEEDED when the server does not answer in time', async () => {
    const lean = createClient(wire.EventStoreService, t.lean);
    const plain = createClient(wire.EventStoreService, t.plain);
    const req = { position: 1_000_000n, timeoutMs: 60_000 };
    const [a, b] = [await outcome(lean.waitForPosition(req, { timeoutMs: 80 })), await outcome(plain.waitForPosition(req, { timeoutMs: 80 }))];
    expect((a as { code: string }).code).toBe('DeadlineExceeded');
    expect((b as { code: string }).code).toBe('DeadlineExceeded');
  });

  it('stops a call when its signal aborts: CANCELED with the reason, as connect-es', async () => {
    const lean = createClient(wire.EventStoreService, t.lean);
    const plain = createClient(wire.EventStoreService, t.plain);
    // Waits for the next position: the append at the end lets the server's side of both calls finish.
    const req = { position: BigInt(s.log.position + 1), timeoutMs: 60_000 };
    const results = [];
    // Calls of earlier tests have ended on the server (their deadlines passed).
    await waitUntil(async () => (await inFlight(s)) === 0);
    for (const rpc of [lean, plain]) {
      const abort = new AbortController();
      const n = await inFlight(s);
      const p = outcome(rpc.waitForPosition(req, { signal: abort.signal }));
      // The call is in flight on the server before the abort.
      await waitUntil(async () => (await inFlight(s)) > n);
      abort.abort(new Error('caller gave up'));
      results.push(await p);
    }
    await s.log.append('x/a', [{ type: 'T', data: 1 }]);
    await waitUntil(async () => (await inFlight(s)) === 0);
    expect(results[0]).toEqual({ code: 'Canceled', message: 'caller gave up', details: [] });
    expect(results[0]).toEqual(results[1]);
    // An already aborted signal: no request at all.
    const gone = new AbortController();
    gone.abort();
    expect(await outcome(lean.getPosition({}, { signal: gone.signal }))).toEqual(await outcome(plain.getPosition({}, { signal: gone.signal })));
  });

  it('reports a server that is not there as connect-es does (UNAVAILABLE), and reconnects when it is back', async () => {
    const other = await startServer('memory');
    const port = other.server.port;
    const url = other.url;
    const apiKey = other.apiKey;
    const log = other.log;
    const tt = transports(url, apiKey);
    try {
      const lean = createClient(wire.EventStoreService, tt.lean);
      expect((await lean.getPosition({})).position).toBe(0n);
      await other.server.close();
      const down = await outcome(lean.getPosition({}));
      expect((down as { code: string }).code).toBe('Unavailable');
      expect(fromConnectError(ConnectError.from(new ConnectError((down as { message: string }).message, Code.Unavailable))).code).toBe('STRAND_SERVER_UNAVAILABLE');
      // The same log served again on the same port: the session manager reconnects.
      const { createServer } = await import('@strand/server');
      const again = createServer({ log, apiKeys: apiKey });
      await again.listen({ port });
      try {
        await log.append('r/a', [{ type: 'T', data: 1 }]);
        expect((await lean.getPosition({})).position).toBe(1n);
      } finally {
        await again.close();
      }
    } finally {
      tt.close();
      await log.close();
    }
  });
});

async function inFlight(s: Running): Promise<number> {
  return (s.server as unknown as { connections: { active: number } }).connections.active;
}

async function waitUntil(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setImmediate(r));
}

describe('StrandClient through the lean path and through connect-es', () => {
  const keys = { lean: '', es: '', leanNarrow: '', esNarrow: '' };
  // Two tenants with the same setup: one driven through the lean path, the other through
  // connect-es on both sides (a client that accepts compression is served by connect-es), so
  // positions, versions and ids match and every result and error can be compared whole.
  const t = tenantServer(async (tenants) => {
    for (const name of ['lean', 'es'] as const) {
      await tenants.createTenant(name);
      keys[name] = (await tenants.createPrincipal(name, allGrants)).apiKey;
      keys[`${name}Narrow`] = (await tenants.createPrincipal(name, (['read', 'append'] as const).map((permission) => ({ permission, pattern: 'q/a' })))).apiKey;
    }
  });
  const clients: StrandClient[] = [];
  afterAll(async () => {
    for (const c of clients) await c.close();
  });
  const open = (apiKey: string, compression: boolean) => {
    const c = connect({ url: t.url, apiKey, compression, reconnect: { maxAttempts: 1 }, callRetries: 0 });
    clients.push(c);
    return c;
  };

  /** A call's outcome as the application sees it: the result (timestamps aside), or the error's class, code, kind, message and details. */
  async function outcome(p: Promise<unknown>): Promise<unknown> {
    try {
      const r = await p;
      return { ok: r === undefined ? 'undefined' : JSON.parse(JSON.stringify(r, (k, v) => (k === 'timestamp' || k === 'created' ? 'T' : v))) };
    } catch (e) {
      if (!(e instanceof StrandError)) throw e;
      return { cls: e.constructor.name, code: e.code, kind: e.kind, message: e.message, details: e.details };
    }
  }

  it('every call has the same outcome (fast-check over appends, reads, bad inputs and denied calls)', async () => {
    const lean = { all: open(keys.lean, false), narrow: open(keys.leanNarrow, false) };
    const es = { all: open(keys.es, true), narrow: open(keys.esNarrow, true) };
    const before = t.server.leanUnaryCalls;
    let id = 0;
    const stream = fc.constantFrom('q/a', 'q/b', 'q/a/c', 'bad//name', '');
    const expected: fc.Arbitrary<ExpectedVersion | undefined> = fc.oneof(fc.constant(undefined), fc.constantFrom('no_stream' as const, 'any' as const, 'stream_exists' as const), fc.integer({ min: 0, max: 4 }));
    const event: fc.Arbitrary<EventInput> = fc.record({ type: fc.constantFrom('A', 'B', ''), data: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)) }) as fc.Arbitrary<EventInput>;
    const op = fc.oneof(
      fc.record({ op: fc.constant('append' as const), narrow: fc.boolean(), stream, events: fc.array(event, { maxLength: 3 }), expected }),
      fc.record({ op: fc.constant('appendMulti' as const), parts: fc.array(fc.record({ stream, events: fc.array(event, { minLength: 1, maxLength: 2 }), expected }), { maxLength: 3 }) }),
      fc.record({ op: fc.constant('read' as const), narrow: fc.boolean(), stream, from: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), backwards: fc.boolean() }),
      fc.record({ op: fc.constant('info' as const), stream }),
      fc.record({ op: fc.constant('readAll' as const), pattern: fc.constantFrom('q/>', '>', 'bad pattern!') }),
      fc.record({ op: fc.constant('truncate' as const), stream, version: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ op: fc.constant('delete' as const), narrow: fc.boolean(), stream }),
      fc.record({ op: fc.constant('children' as const), prefix: fc.constantFrom('', 'q', 'q/a', 'bad//') }),
      fc.record({ op: fc.constant('count' as const), prefix: fc.constantFrom('', 'q', 'q/a') }),
      fc.record({ op: fc.constant('head' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        for (const o of ops) {
          // Event ids given, the same for both tenants (the client would make random ones).
          const ids = (events: readonly EventInput[]) => events.map((e) => ({ ...e, id: `e-${id++}` }));
          const run = async (c: { all: StrandClient; narrow: StrandClient }, events: EventInput[][]) => {
            switch (o.op) {
              case 'append':
                return (o.narrow ? c.narrow : c.all).append(o.stream, events[0]!, o.expected === undefined ? {} : { expectedVersion: o.expected });
              case 'appendMulti':
                return c.all.appendMulti(o.parts.map((p, i) => ({ stream: p.stream, events: events[i]!, ...(p.expected === undefined ? {} : { expectedVersion: p.expected }) })));
              case 'read':
                return collect((o.narrow ? c.narrow : c.all).readStream(o.stream, { ...(o.from === undefined ? {} : { from: o.from }), direction: o.backwards ? 'backwards' : 'forwards' }));
              case 'info':
                return c.all.streamInfo(o.stream);
              case 'readAll':
                return collect(c.all.readAll({ pattern: o.pattern }));
              case 'truncate':
                return c.all.truncateBefore(o.stream, o.version);
              case 'delete':
                return (o.narrow ? c.narrow : c.all).deleteStream(o.stream);
              case 'children':
                return c.all.listChildren(o.prefix);
              case 'count':
                return c.all.countStreams(o.prefix);
              case 'head':
                return c.all.headPosition();
            }
          };
          const evs = o.op === 'append' ? [ids(o.events)] : o.op === 'appendMulti' ? o.parts.map((p) => ids(p.events)) : [];
          const a = await outcome(run(lean, evs));
          const b = await outcome(run(es, evs));
          expect(a, label(o)).toEqual(b);
        }
      }),
      { numRuns: 30 },
    );
    // The lean client's calls took the lean path; the connect-es client's did not add to it.
    expect(t.server.leanUnaryCalls - before).toBeGreaterThan(0);
  });

  it('counts lean calls in the metrics, per method and code, as the interceptor counts connect-es calls', async () => {
    const c = open(keys.lean, false);
    const metric = async (method: string, code: string): Promise<number> => {
      const text = await t.server.metrics.registry.metrics();
      const m = new RegExp(`^strand_server_requests_total\\{method="${method}",code="${code}"\\} (\\d+)$`, 'm').exec(text);
      return m === null ? 0 : Number(m[1]);
    };
    const latency = async (method: string): Promise<number> => {
      const m = new RegExp(`^strand_server_request_duration_seconds_count\\{method="${method}"\\} (\\d+)$`, 'm').exec(await t.server.metrics.registry.metrics());
      return m === null ? 0 : Number(m[1]);
    };
    const before = { ok: await metric('GetStreamInfo', 'ok'), invalid: await metric('GetStreamInfo', 'InvalidArgument'), timed: await latency('GetStreamInfo'), lean: t.server.leanUnaryCalls };
    for (let i = 0; i < 5; i++) await c.streamInfo('m/a');
    await expect(c.streamInfo('bad//name')).rejects.toSatisfy((e) => isStrandError(e, 'STRAND_INVALID_STREAM_NAME') || isStrandError(e, 'STRAND_INVALID_ARGUMENT'));
    expect(t.server.leanUnaryCalls - before.lean).toBe(6);
    expect((await metric('GetStreamInfo', 'ok')) - before.ok).toBe(5);
    expect((await metric('GetStreamInfo', 'InvalidArgument')) - before.invalid).toBe(1);
    expect((await latency('GetStreamInfo')) - before.timed).toBe(6);
  });
});

describe('shutdown with a lean call in flight', () => {
  it('answers the call in flight, waits for it, and refuses new calls with 503', async () => {
    const s = await startServer('leveldb');
    const c = s.client({ reconnect: { maxAttempts: 1 }, callRetries: 0 });
    let closing: Promise<void> | undefined;
    try {
      await c.append('d/a', [{ type: 'T', data: 1 }]);
      const before = s.server.leanUnaryCalls;
      const waiting = c.waitForPosition(2, 10_000);
      await waitUntil(async () => (await inFlight(s)) > 0);
      let closed = false;
      closing = s.server.close().then(() => {
        closed = true;
      });
      // New calls are refused while the one in flight is still waited for.
      const refused = await c.headPosition().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStrandError(refused, 'STRAND_SERVER_UNAVAILABLE')).toBe(true);
      expect(closed).toBe(false);
      await s.log.append('d/a', [{ type: 'T', data: 2 }]);
      await expect(waiting).resolves.toBeUndefined();
      await closing;
      expect(s.server.leanUnaryCalls - before).toBe(1);
    } finally {
      await closing;
      await s.close();
    }
  });
});
