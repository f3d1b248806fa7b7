// Server memory per idle subscription: a server in a child process (memory log, --expose-gc),
// `count` idle subscriptions opened through @strand/client (1,000 per connection), then the
// child's heap and RSS after a full GC, beside the same child before any subscription.
//
//   npm run build && node scripts/profile/server-idle-memory.mjs [--count 5000] [--snapshot FILE] [--connect-es]
//
// --connect-es serves every Subscribe through connect-es (the server's lean path for the Connect
// binary protocol is switched off in the child), for the before/after of that path.
// --snapshot writes a heap snapshot of the server with the subscriptions open (open it in Chrome
// DevTools, Memory tab, "Statistics" / "Summary" by constructor). Findings: docs/design/0013-server.md,
// "Idle subscriptions".
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '../../packages/client/dist/index.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '5000' }, snapshot: { type: 'string' }, child: { type: 'boolean' }, 'connect-es': { type: 'boolean' } } });
const KEY = 'profile-server-key-0123456789abcdef';

if (values.child) {
  const { openLog } = await import('../../packages/core/dist/index.js');
  const { createServer } = await import('../../packages/server/dist/index.js');
  const v8 = await import('node:v8');
  if (values['connect-es']) {
    const { ConnectSubscribe } = await import('../../packages/server/dist/connect-subscribe.js');
    ConnectSubscribe.prototype.accepts = () => false;
  }
  const server = createServer({ log: await openLog({ memory: true }), apiKeys: [KEY], ownsStore: true, limits: { heartbeatMs: 60_000 } });
  const url = await server.listen();
  const usage = () => {
    globalThis.gc();
    globalThis.gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, open: server.openSubscriptions };
  };
  process.on('message', async (m) => {
    if (m.type === 'usage') process.send({ type: 'usage', usage: usage() });
    if (m.type === 'open') process.send({ type: 'open', open: server.openSubscriptions });
    if (m.type === 'snapshot') process.send({ type: 'snapshot', file: v8.writeHeapSnapshot(m.file) });
    if (m.type === 'close') {
      await server.close();
      process.exit(0);
    }
  });
  process.send({ type: 'url', url });
} else {
  const count = Number(values.count);
  const child = fork(fileURLToPath(import.meta.url), ['--child', ...(values['connect-es'] ? ['--connect-es'] : [])], { execArgv: ['--expose-gc'] });
  const ask = (type, extra = {}) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.type !== type) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.send({ type, ...extra });
    });
  const { url } = await new Promise((resolve) => child.once('message', resolve));
  const warm = connect({ url, apiKey: KEY });
  await warm.append('idle/warm', [{ type: 'T', data: {} }]);
  const before = (await ask('usage')).usage;
  const clients = Array.from({ length: Math.ceil(count / 1000) }, () => connect({ url, apiKey: KEY, heartbeatMs: 60_000 }));
  const aborts = [];
  const pending = [];
  for (let i = 0; i < count; i++) {
    const abort = new AbortController();
    aborts.push(abort);
    const it = clients[Math.floor(i / 1000)].follow(`idle/s-${i}`, { from: 'end', signal: abort.signal })[Symbol.asyncIterator]();
    pending.push(it.next().catch((e) => { if (process.env.VERBOSE) console.log("sub error", e.code ?? e.message); }));
  }
  for (;;) {
    const { open } = await ask('open');
    if (open >= count) break;
    if (process.env.VERBOSE) console.log('open', open);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = (await ask('usage')).usage;
  if (after.open !== count) console.log(`(${after.open} open when measured)`);
  const mb = (n) => (n / 1048576).toFixed(1);
  const per = (k) => ((after[k] - before[k]) / count / 1024).toFixed(2);
  console.log(`${count} idle subscriptions: rss ${mb(before.rss)} -> ${mb(after.rss)} MB (${per('rss')} KB each); heap used ${mb(before.heapUsed)} -> ${mb(after.heapUsed)} MB (${per('heapUsed')} KB each), total ${mb(before.heapTotal)} -> ${mb(after.heapTotal)} MB (${per('heapTotal')} KB each); external ${mb(before.external)} -> ${mb(after.external)} MB (${per('external')} KB each)`);
  if (values.snapshot) console.log('snapshot', (await ask('snapshot', { file: values.snapshot })).file);
  for (const a of aborts) a.abort();
  await Promise.allSettled(pending);
  for (const c of [...clients, warm]) await c.close();
  await ask('close').catch(() => undefined);
}
