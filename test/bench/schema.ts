/**
 * Codec figures (issue 3): JSON vs msgpack payload codecs, encode/decode speed, append throughput
 * and bytes on disk, plus the cost of schema validation on append.
 *
 * @module
 */
import { jsonCodec, msgpackCodec, openLog, type PayloadCodec, SchemaRegistry } from '@strand/core';
import { z } from 'zod';
import { dirSize } from '@strand/core/testing';
import { type BenchContext, type BenchSection, type Figure, median, timeMs } from './figure.js';

const Order = z.object({ orderId: z.string(), total: z.number(), items: z.array(z.object({ sku: z.string(), qty: z.number().int() })), customer: z.object({ name: z.string(), vip: z.boolean() }) });
const order = (i: number) => ({ orderId: `order-${i}`, total: i * 1.25, items: [{ sku: `sku-${i % 50}`, qty: 1 + (i % 3) }, { sku: 'sku-x', qty: 2 }], customer: { name: `customer-${i % 1000}`, vip: i % 10 === 0 } });

function codecSpeed(codec: PayloadCodec, n: number): { encode: number; decode: number; bytes: number } {
  const ctx = { stream: 's', type: 'T' };
  const data = Array.from({ length: 1000 }, (_, i) => order(i));
  let encoded: Uint8Array[] = [];
  const t0 = performance.now();
  for (let r = 0; r < n / 1000; r++) encoded = data.map((d) => codec.encode(d, ctx));
  const enc = performance.now() - t0;
  const t1 = performance.now();
  for (let r = 0; r < n / 1000; r++) for (const b of encoded) codec.decode(b, ctx);
  const dec = performance.now() - t1;
  return { encode: (n / enc) * 1000, decode: (n / dec) * 1000, bytes: encoded.reduce((a, b) => a + b.length, 0) / encoded.length };
}

async function appendRun(ctx: BenchContext, codec: 'json' | 'msgpack', withSchema: boolean, total: number): Promise<{ rate: number; bytes: number }> {
  const dir = await ctx.tmpdir(`codec-${codec}`);
  const log = await openLog({ path: dir, codec });
  if (withSchema) await (await SchemaRegistry.open(log)).register('OrderPlaced', 1, Order);
  let next = 0;
  const ms = await timeMs(() =>
    Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let i = next++; i < total; i = next++) await log.append(`orders/o-${i % 2000}`, [{ type: 'OrderPlaced', data: order(i) }]);
      }),
    ),
  );
  await log.close();
  return { rate: (total / ms) * 1000, bytes: (await dirSize(dir)) / total };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(20_000, Math.round(200_000 * ctx.scale));
  const json = median(Array.from({ length: ctx.runs }, () => codecSpeed(jsonCodec, n).decode));
  const mp = median(Array.from({ length: ctx.runs }, () => codecSpeed(msgpackCodec, n).decode));
  const jsonEnc = median(Array.from({ length: ctx.runs }, () => codecSpeed(jsonCodec, n).encode));
  const mpEnc = median(Array.from({ length: ctx.runs }, () => codecSpeed(msgpackCodec, n).encode));
  const sizes = { json: codecSpeed(jsonCodec, 1000).bytes, msgpack: codecSpeed(msgpackCodec, 1000).bytes };
  const total = Math.max(2000, Math.round(20_000 * ctx.scale));
  const aj: number[] = [];
  const am: number[] = [];
  const av: number[] = [];
  let diskJson = 0;
  let diskMp = 0;
  for (let r = 0; r < ctx.runs; r++) {
    const j = await appendRun(ctx, 'json', false, total);
    const m = await appendRun(ctx, 'msgpack', false, total);
    const v = await appendRun(ctx, 'json', true, total);
    aj.push(j.rate);
    am.push(m.rate);
    av.push(v.rate);
    diskJson = j.bytes;
    diskMp = m.bytes;
  }
  return [
    { id: 'codec.msgpack.decode_per_s', value: mp, unit: 'payloads/s', reference: { name: 'json codec, same payloads', value: json }, note: `decode of a ${Math.round(sizes.msgpack)}-byte msgpack / ${Math.round(sizes.json)}-byte JSON order payload` },
    { id: 'codec.msgpack.encode_per_s', value: mpEnc, unit: 'payloads/s', reference: { name: 'json codec, same payloads', value: jsonEnc }, note: 'encode' },
    { id: 'codec.msgpack.append.events_per_s', value: median(am), unit: 'events/s', reference: { name: 'json codec, same appends', value: median(aj) }, note: `${total} durable appends, 64 in flight` },
    { id: 'codec.msgpack.disk_bytes_per_event', value: diskMp, unit: 'B', reference: { name: 'json codec', value: diskJson }, note: 'LevelDB directory size per event (before compaction)' },
    { id: 'schema.validated.append.events_per_s', value: median(av), unit: 'events/s', reference: { name: 'same appends without a registry', value: median(aj) }, note: 'zod validation + schema version on every append (json codec)' },
  ];
}

/** The schema/codec section. */
export const schema: BenchSection = { name: 'schema', run };
