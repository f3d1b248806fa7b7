/**
 * Appends issued together travel as one AppendBatch: each keeps its own expected version, result
 * and error, appends to one stream keep the order they were called in, and what was acknowledged
 * is in the log.
 */
import { WrongExpectedVersionError } from '@strand/core';
import { collect } from '@strand/core/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanup, type Running, startServer } from './harness.js';

let s: Running;
beforeEach(async () => {
  s = await startServer('memory');
});
afterEach(() => s.close());
afterAll(cleanup);

/** Counts the RPCs the server answers, by method name. */
async function rpcCounts(): Promise<Record<string, number>> {
  const text = await s.server.metrics.registry.metrics();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/strand_server_requests_total\{[^}]*method="([A-Za-z]+)"[^}]*\} (\d+)/g)) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  return out;
}

describe('concurrent appends through the client', () => {
  it('go as one batch, each with its own result or error, in call order per stream', async () => {
    const c = s.client();
    await c.append('b/x', [{ type: 'First', data: 0 }]);
    const before = await rpcCounts();
    const calls = [
      c.append('b/x', [{ type: 'A', data: 1 }]),
      c.append('b/x', [{ type: 'B', data: 2 }], { expectedVersion: 1 }), // stale once A is in: conflicts
      c.append('b/y', [{ type: 'C', data: 3 }], { expectedVersion: 'no_stream' }),
      c.append('b/x', [{ type: 'D', data: 4 }]),
      c.append('b/z', [{ type: 'Bad', data: 5 }], { expectedVersion: 7 }),
    ];
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
    const conflict = (results[1] as PromiseRejectedResult).reason as WrongExpectedVersionError;
    expect(conflict).toBeInstanceOf(WrongExpectedVersionError);
    expect([conflict.code, conflict.stream, conflict.expected, conflict.actual]).toEqual(['STRAND_WRONG_EXPECTED_VERSION', 'b/x', 1, 2]);
    expect(((results[4] as PromiseRejectedResult).reason as WrongExpectedVersionError).code).toBe('STRAND_WRONG_EXPECTED_VERSION');
    expect((await collect(s.log.readStream('b/x'))).map((e) => e.type)).toEqual(['First', 'A', 'D']);
    expect((await collect(s.log.readStream('b/y'))).map((e) => e.type)).toEqual(['C']);
    expect(await s.log.streamInfo('b/z')).toBeUndefined();
    const after = await rpcCounts();
    expect((after.AppendBatch ?? 0) - (before.AppendBatch ?? 0)).toBe(1);
    expect((after.Append ?? 0) - (before.Append ?? 0)).toBe(0);
  });

  it('splits many appends into bounded batches and acknowledges only what is in the log', async () => {
    const c = s.client();
    const n = 1_200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.append(`many/s-${i % 7}`, [{ type: 'E', data: { i, pad: 'x'.repeat(1000) } }])));
    expect(new Set(results.map((r) => r.position)).size).toBe(n);
    const counts = await rpcCounts();
    // 512 appends (or 1 MiB) per batch at most: more than one batch, far fewer than n requests.
    expect(counts.AppendBatch ?? 0).toBeGreaterThanOrEqual(2);
    expect(counts.AppendBatch ?? 0).toBeLessThan(20);
    const stored = await collect(s.log.readAll());
    expect(stored.length).toBe(n);
    // Within a batch (512 appends here), the log holds one stream's appends in call order;
    // separate batches are concurrent requests, as separate appends in flight are.
    for (let k = 0; k < 7; k++) {
      for (let b = 0; b < n; b += 512) {
        const is = stored.filter((e) => e.stream === `many/s-${k}`).map((e) => (e.data as { i: number }).i).filter((i) => i >= b && i < b + 512);
        expect(is).toEqual([...is].sort((x, y) => x - y));
      }
    }
  });

  it('sends a lone append as a plain Append', async () => {
    const c = s.client();
    await c.append('one/x', [{ type: 'A', data: 1 }]);
    const counts = await rpcCounts();
    expect(counts.Append).toBe(1);
    expect(counts.AppendBatch ?? 0).toBe(0);
  });
});
