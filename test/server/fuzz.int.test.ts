/**
 * Fuzzing the server's front door: malformed protobuf and JSON, oversized bodies, garbage HTTP and
 * HTTP/2, half-closed connections. The server answers with errors, stays up, and writes nothing.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, type Running, startServer } from './harness.js';

let s: Running;
beforeAll(async () => {
  s = await startServer('memory', { limits: { requestBytes: 64 * 1024 } });
});
afterAll(async () => {
  await s.close();
  cleanup();
});

const METHODS = ['Append', 'AppendMulti', 'ReadStream', 'ReadAll', 'Subscribe', 'GrantCredits', 'ListChildren', 'GetStreamInfo', 'DeleteStream', 'TruncateBefore'];

async function post(method: string, body: Uint8Array | string, contentType: string): Promise<number> {
  const res = await fetch(`${s.url}/strand.v1.EventStoreService/${method}`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${s.apiKey}`, 'connect-protocol-version': '1' },
    body,
  });
  await res.text();
  // A body that does not decode is the caller's mistake: never a 500.
  return res.status;
}

/** Writes raw bytes on a TCP connection, half-closes it, and returns what came back. */
function raw(bytes: Buffer | string, halfClose = true): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(s.server.port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
    });
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
    socket.write(bytes);
    if (halfClose) socket.end();
    else setTimeout(() => socket.destroy(), 300);
  });
}

async function stillServing(): Promise<void> {
  expect(await (await fetch(`${s.url}/healthz`)).text()).toBe('ok\n');
  const r = await fetch(`${s.url}/strand.v1.EventStoreService/GetPosition`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.apiKey}` },
    body: '{}',
  });
  expect(await r.json()).toEqual({});
}

describe('fuzz', () => {
  it('rejects random protobuf and JSON bodies on every method with a client error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (method, bytes, json) => {
        const status = json ? await post(method, Buffer.from(bytes).toString('latin1'), 'application/json') : await post(method, bytes, 'application/proto');
        // 200 only where random bytes happen to decode to a harmless request (a read of nothing).
        expect(status === 200 || (status >= 400 && status < 500) || status === 503).toBe(true);
      }),
      { numRuns: 150 },
    );
    expect(s.log.position).toBe(0);
    await stillServing();
  });

  it('answers a protobuf body that does not decode with INVALID_ARGUMENT and STRAND_INVALID_ARGUMENT, over Connect and gRPC', async () => {
    // A field 1 (stream) with a length running past the end of the body.
    const bad = new Uint8Array([0x0a, 0x7f, 0x61]);
    const res = await fetch(`${s.url}/strand.v1.EventStoreService/Append`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto', authorization: `Bearer ${s.apiKey}`, 'connect-protocol-version': '1' },
      body: bad,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string; details?: Array<{ type: string }> };
    expect(body.code).toBe('invalid_argument');
    expect(body.details?.map((d) => d.type)).toEqual(['strand.v1.StrandErrorDetail']);
    // gRPC: the same through a real gRPC framing (5-byte envelope) on HTTP/2.
    const http2 = await import('node:http2');
    const session = http2.connect(s.url);
    const status = await new Promise<string | undefined>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/strand.v1.EventStoreService/Append', 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${s.apiKey}` });
      let got: string | undefined;
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) got = String(h['grpc-status']);
      });
      req.on('trailers', (t) => {
        got = String(t['grpc-status']);
      });
      req.on('data', () => {});
      req.on('end', () => resolve(got));
      req.on('error', reject);
      req.end(Buffer.concat([Buffer.from([0, 0, 0, 0, bad.length]), Buffer.from(bad)]));
    });
    session.close();
    expect(status).toBe('3');
    expect(s.log.position).toBe(0);
  });

  it('refuses oversized bodies with RESOURCE_EXHAUSTED and writes nothing', async () => {
    const big = JSON.stringify({ stream: 'big/a', events: [{ type: 'T', data: JSON.stringify('x'.repeat(100_000)) }] });
    const status = await post('Append', big, 'application/json');
    expect(status).toBe(429);
    expect(s.log.position).toBe(0);
    await stillServing();
  });

  it('survives garbage HTTP/1.1, garbage HTTP/2 and half-closed connections', async () => {
    await raw('GARBAGE\r\n\r\n');
    await raw('POST /strand.v1.EventStoreService/Append HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"stream":');
    await raw('POST /strand.v1.EventStoreService/Append HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    await raw(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 4, 0xff, 0, 0, 0, 0, 1, 1, 2, 3, 4])]));
    await raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', false);
    await raw('', true);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.boolean(), async (bytes, h2) => {
        await raw(h2 ? Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from(bytes)]) : Buffer.from(bytes));
      }),
      { numRuns: 40 },
    );
    expect(s.log.position).toBe(0);
    await stillServing();
  });
});
