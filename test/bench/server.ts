/**
 * Server figures (issue 16): the log behind `strand serve` in a child process, driven over
 * loopback by `@strand/client` from this process, each beside the in-process log doing the same
 * work in the same run. Design: docs/design/0013-server.md.
 *
 * Sizes follow `--scale`: at `--scale 1` (`npm run bench -- --only server --scale 1`) they are
 * the (20,000 durable appends, a 1,000,000-event catch-up, 100 subscribers while 20,000
 * events are appended, 10,000 idle subscriptions); `--scale 0.05` is a quick run.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { connect, type StrandClient } from '@strand/client';
import { type EventInput, type EventLog, openLog } from '@strand/core';
import { wire } from '@strand/protocol';
import { type BenchContext, type BenchSection, type Figure, median, payload, percentile, pool, repeat, timeMs } from './figure.js';

// Compiled to test/dist/bench: the CLI is three levels up.
const bin = fileURLToPath(new URL('../../../packages/cli/bin/strand.js', import.meta.url));
const API_KEY = 'bench-server-key-0123456789abcdef';

interface Served {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** `strand serve` on a LevelDB directory (a fresh one unless `path` is given), in a child process. */
async function serve(ctx: BenchContext, label: string, extra: string[] = [], path?: string): Promise<Served> {
  const dir = path ?? (await ctx.tmpdir(label));
  const child = spawn(process.execPath, [bin, '--path', dir, '--json', 'serve', '--port', '0', ...extra], {
    env: { ...process.env, STRAND_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    void exited.then(() => reject(new Error('strand serve exited before listening')));
  });
  return {
    child,
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Resident set size of a process, MB (Linux). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const stream = (i: number) => `acct/s-${(i % 64) + 64 * (Math.floor(i / 64) % 31)}`;
const one = (i: number): EventInput[] => [{ type: 'Deposited', data: payload(i) }];

/** W2 over the network: 64 appends in flight, durable; and one at a time for the latency. */
async function appends(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(2000, Math.round(20_000 * ctx.scale));
  const seq = Math.max(200, Math.round(2_000 * ctx.scale));
  const remote: number[] = [];
  const local: number[] = [];
  const remoteP50: number[] = [];
  const localP50: number[] = [];
  const esP50: number[] = [];
  await repeat(ctx.runs, async () => {
    const s = await serve(ctx, 'server-append');
    const client = connect({ url: s.url, apiKey: API_KEY });
    await client.append('warm/up', one(0));
    remote.push((n / (await pool(n, 64, (i) => client.append(stream(i), one(i))))) * 1000);
    const lat: number[] = [];
    for (let i = 0; i < seq; i++) lat.push(await timeMs(() => client.append(`seq/s-${i % 200}`, one(i))));
    remoteP50.push(percentile(lat, 50));
    await client.close();
    // The same through connect-es on both sides: a client that accepts compression is served by
    // connect-es, and sends through it (docs/design/0013-server.md, "The lean unary path").
    const viaEs = connect({ url: s.url, apiKey: API_KEY, compression: true });
    await viaEs.append('warm/up', one(0));
    const esLat: number[] = [];
    for (let i = 0; i < seq; i++) esLat.push(await timeMs(() => viaEs.append(`seq/s-${i % 200}`, one(i))));
    esP50.push(percentile(esLat, 50));
    await viaEs.close();
    await s.stop();
    const log = await openLog({ path: await ctx.tmpdir('server-append-local') });
    local.push((n / (await pool(n, 64, (i) => log.append(stream(i), one(i))))) * 1000);
    const ll: number[] = [];
    for (let i = 0; i < seq; i++) ll.push(await timeMs(() => log.append(`seq/s-${i % 200}`, one(i))));
    localP50.push(percentile(ll, 50));
    await log.close();
  });
  ctx.log(`server: appends done`);
  return [
    {
      id: 'server.append.durable.events_per_s',
      value: median(remote),
      unit: 'events/s',
      reference: { name: 'in-process log, same workload', value: median(local) },
      note: `W2 over loopback: ${n} 1-event appends, 64 in flight from one client, every append synced (group commit)`,
    },
    {
      id: 'server.append.p50_ms',
      value: median(remoteP50),
      unit: 'ms',
      reference: { name: 'in-process log, same workload', value: median(localP50) },
      note: `${seq} sequential 1-event durable appends over loopback`,
    },
    {
      id: 'server.append.connect_es.p50_ms',
      value: median(esP50),
      unit: 'ms',
      reference: { name: 'in-process log, same workload', value: median(localP50) },
      note: `as server.append.p50_ms, through connect-es on both sides instead of the lean unary path`,
    },
  ];
}

/** Loads `total` events (batches of 100, straight into the server's log through the client). */
async function load(client: StrandClient | EventLog, total: number): Promise<void> {
  await pool(Math.ceil(total / 100), 16, (b) =>
    client.append(
      `load/s-${b % 1000}`,
      Array.from({ length: Math.min(100, total - b * 100) }, (_, k) => ({ type: 'Loaded', data: payload(b * 100 + k) })),
    ),
  );
}

/** Counts `total` events from a follow, then stops it. */
async function drain(store: StrandClient | EventLog, pattern: string, total: number): Promise<void> {
  const abort = new AbortController();
  let n = 0;
  for await (const _ of store.follow(pattern, { from: 1, signal: abort.signal })) {
    if (++n === total) abort.abort();
  }
  if (n !== total) throw new Error(`caught up ${n} of ${total}`);
}

/**
 * One remote subscriber catching up the whole log, beside an in-process follow of the same log:
 * the log is written once in process, followed there, then served by `strand serve` from the
 * same directory and followed through the client (at --scale 1, 1,000,000 events).
 */
async function catchup(ctx: BenchContext): Promise<Figure[]> {
  const total = Math.max(20_000, Math.round(1_000_000 * ctx.scale));
  const runs = Math.min(ctx.runs, 3);
  const remote: number[] = [];
  const local: number[] = [];
  const path = await ctx.tmpdir('server-catchup');
  const log = await openLog({ path });
  ctx.log(`server: loading ${total} events for catch-up`);
  await load(log, total);
  for (let r = 0; r < runs; r++) local.push((total / (await timeMs(() => drain(log, '>', total)))) * 1000);
  await log.close();
  const s = await serve(ctx, 'server-catchup', [], path);
  for (let r = 0; r < runs; r++) {
    const c = connect({ url: s.url, apiKey: API_KEY });
    remote.push((total / (await timeMs(() => drain(c, '>', total)))) * 1000);
    await c.close();
  }
  await s.stop();
  return [
    {
      id: 'server.catchup.events_per_s',
      value: median(remote),
      unit: 'events/s',
      reference: { name: 'in-process follow of the same log', value: median(local) },
      note: `one remote subscriber catching up ${total} events (200-byte payloads) from position 1; medians of ${runs}`,
    },
  ];
}

/** Deliveries per second to `subscribers` followers on overlapping patterns while `appends` events are appended. */
async function fanoutRun(open: () => Promise<{ stores: (StrandClient | EventLog)[]; writer: StrandClient | EventLog; close(): Promise<void> }>, subscribers: number, appends: number): Promise<number> {
  const { stores, writer, close } = await open();
  const patterns = ['fan/>', 'fan/*/a', 'fan/eu/*', '>'];
  const expected = (p: string) => {
    // 4 streams written round-robin: fan/eu/a, fan/eu/b, fan/us/a, other/x.
    const per = appends / 4;
    if (p === 'fan/>') return 3 * per;
    if (p === 'fan/*/a') return 2 * per;
    if (p === 'fan/eu/*') return 2 * per;
    return 4 * per;
  };
  const streams = ['fan/eu/a', 'fan/eu/b', 'fan/us/a', 'other/x'];
  let delivered = 0;
  // Every subscriber starts at the same position, so none can miss an event it waits for.
  const from = (await writer.headPosition()) + 1;
  const aborts: AbortController[] = [];
  const started: Promise<void>[] = [];
  const done = Array.from({ length: subscribers }, (_, i) => {
    const p = patterns[i % patterns.length]!;
    const want = expected(p);
    const abort = new AbortController();
    aborts.push(abort);
    let ready!: () => void;
    started.push(new Promise<void>((r) => (ready = r)));
    return (async () => {
      let n = 0;
      const it = stores[i % stores.length]!.follow(p, { from, signal: abort.signal })[Symbol.asyncIterator]();
      // The first next() opens the subscription; count from the first event.
      const first = it.next();
      ready();
      let r = await first;
      while (!r.done) {
        delivered++;
        if (++n === want) break;
        r = await it.next();
      }
      await it.return?.();
    })();
  });
  await Promise.all(started);
  const ms = await timeMs(async () => {
    await pool(appends / 10, 8, (b) => writer.append(streams[b % 4]!, Array.from({ length: 10 }, (_, k) => ({ type: 'Fan', data: payload(b * 10 + k) }))));
    await Promise.all(done);
  });
  for (const a of aborts) a.abort();
  await close();
  return (delivered / ms) * 1000;
}

/** 100 remote subscribers on overlapping patterns while appending, beside 100 in-process followers. */
async function fanout(ctx: BenchContext): Promise<Figure[]> {
  const subscribers = 100;
  const appends = Math.max(2_000, Math.round(20_000 * ctx.scale / 4) * 4);
  const remote: number[] = [];
  const local: number[] = [];
  await repeat(Math.min(ctx.runs, 3), async () => {
    const s = await serve(ctx, 'server-fanout');
    remote.push(
      await fanoutRun(async () => {
        // Ten client processes' worth of connections: 10 subscribers per connection.
        const stores = Array.from({ length: 10 }, () => connect({ url: s.url, apiKey: API_KEY }));
        const writer = connect({ url: s.url, apiKey: API_KEY });
        return {
          stores,
          writer,
          close: async () => {
            for (const c of [...stores, writer]) await c.close();
            await s.stop();
          },
        };
      }, subscribers, appends),
    );
    const log = await openLog({ path: await ctx.tmpdir('server-fanout-local') });
    local.push(await fanoutRun(async () => ({ stores: [log], writer: log, close: () => log.close() }), subscribers, appends));
  });
  return [
    {
      id: 'server.fanout.deliveries_per_s',
      value: median(remote),
      unit: 'deliveries/s',
      reference: { name: 'in-process log, 100 followers', value: median(local) },
      note: `${subscribers} remote subscribers (10 connections) on 4 overlapping patterns while ${appends} events are appended in batches of 10`,
    },
  ];
}

/** Asks a server how many subscriptions it has open (from its metrics). */
async function openSubscriptions(url: string): Promise<number> {
  // A busy client can leave its keep-alive connection idle past the server's keep-alive timeout
  // (the request then meets a closing socket): the caller asks again.
  try {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
    return Number(/strand_server_subscriptions_open (\d+)/.exec(await res.text())?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * One server child with `count` open idle subscriptions: its RSS before any and with them open.
 * `via: 'client'` subscribes with @strand/client (Connect binary, uncompressed: the server's lean
 * path); `via: 'connect-es'` with a bare Connect transport that accepts gzip, which the server
 * serves through connect-es (as it does gRPC, gRPC-Web and JSON).
 */
async function idleRun(ctx: BenchContext, count: number, via: 'client' | 'connect-es'): Promise<{ before: number; after: number }> {
  const perConnection = 1_000;
  const s = await serve(ctx, 'server-idle', ['--heartbeat', '60000']);
  const warm = connect({ url: s.url, apiKey: API_KEY });
  await warm.append('idle/warm', one(0));
  await new Promise((r) => setTimeout(r, 500));
  const before = rssMb(s.child.pid!);
  const connections = Math.ceil(count / perConnection);
  const clients = via === 'client' ? Array.from({ length: connections }, () => connect({ url: s.url, apiKey: API_KEY, heartbeatMs: 60_000 })) : [];
  const auth: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${API_KEY}`);
    return next(req);
  };
  const raw = via === 'connect-es' ? Array.from({ length: connections }, () => createClient(wire.EventStoreService, createConnectTransport({ baseUrl: s.url, httpVersion: '2', interceptors: [auth] }))) : [];
  const aborts: AbortController[] = [];
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const abort = new AbortController();
    aborts.push(abort);
    const c = Math.floor(i / perConnection);
    const it =
      via === 'client'
        ? clients[c]!.follow(`idle/s-${i}`, { from: 'end', signal: abort.signal })[Symbol.asyncIterator]()
        : raw[c]!.subscribe({ pattern: `idle/s-${i}`, fromEnd: true, credits: 1024, heartbeatMs: 60_000 }, { signal: abort.signal })[Symbol.asyncIterator]();
    pending.push(it.next().catch(() => undefined));
  }
  // Every subscription is open once the server counts it.
  const deadline = Date.now() + 120_000;
  while ((await openSubscriptions(s.url)) < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  const open = await openSubscriptions(s.url);
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssMb(s.child.pid!);
  for (const a of aborts) a.abort();
  await Promise.allSettled(pending);
  for (const c of [...clients, warm]) await c.close();
  await s.stop();
  if (open < count) throw new Error(`only ${open} of ${count} subscriptions opened (${via})`);
  return { before, after };
}

/**
 * Server RSS with 10,000 open idle subscriptions, beside the same server with none: through
 * @strand/client (the lean Connect path) and, in the same run, through connect-es.
 */
async function idle(ctx: BenchContext): Promise<Figure[]> {
  const count = Math.max(1_000, Math.round(10_000 * ctx.scale));
  const lean = await idleRun(ctx, count, 'client');
  const es = await idleRun(ctx, count, 'connect-es');
  const kb = (r: { before: number; after: number }) => (((r.after - r.before) * 1024) / count).toFixed(1);
  return [
    {
      id: 'server.idle_subscriptions.rss_mb',
      value: lean.after,
      unit: 'MB',
      reference: { name: 'the same server with no subscription', value: lean.before },
      note: `${count} open idle subscriptions from @strand/client (Connect binary: the server's lean path; 1,000 per HTTP/2 connection), server process RSS: ${kb(lean)} KB each; through connect-es in the same run ${kb(es)} KB each (server.idle_subscriptions.connect_es.rss_mb)`,
    },
    {
      id: 'server.idle_subscriptions.connect_es.rss_mb',
      value: es.after,
      unit: 'MB',
      reference: { name: 'the same server with no subscription', value: es.before },
      note: `${count} open idle subscriptions served by connect-es (Connect binary accepting gzip, as gRPC, gRPC-Web and JSON are), server process RSS: ${kb(es)} KB each`,
    },
  ];
}

/** The server section. */
export const server: BenchSection = {
  name: 'server',
  async run(ctx) {
    return [...(await appends(ctx)), ...(await catchup(ctx)), ...(await fanout(ctx)), ...(await idle(ctx))];
  },
};
