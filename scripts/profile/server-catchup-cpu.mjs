// CPU per event of a remote catch-up: a server in a child process over a LevelDB log of `count`
// events (200-byte payloads, written once and kept in --dir), one @strand/client subscriber
// draining it from position 1; the server's and the client's CPU time per event, the server
// serving Subscribe through its lean Connect path and then, in the same run, through connect-es.
// CPU time rather than wall time: on a loaded machine it is what stays comparable.
//
//   npm run build && node scripts/profile/server-catchup-cpu.mjs [--count 200000] [--dir DIR] [--runs 2]
//
// Findings: docs/design/0013-server.md, "Idle subscriptions" and "Event encoding".
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '200000' }, dir: { type: 'string' }, runs: { type: 'string', default: '2' }, child: { type: 'boolean' }, 'connect-es': { type: 'boolean' } },
});
const KEY = 'profile-server-key-0123456789abcdef';

if (values.child) {
  const { openLog } = await import('../../packages/core/dist/index.js');
  const { createServer } = await import('../../packages/server/dist/index.js');
  if (values['connect-es']) {
    const { ConnectSubscribe } = await import('../../packages/server/dist/connect-subscribe.js');
    ConnectSubscribe.prototype.accepts = () => false;
  }
  const server = createServer({ log: await openLog({ path: values.dir }), apiKeys: [KEY], ownsStore: true });
  console.log(JSON.stringify({ url: await server.listen() }));
  process.on('SIGTERM', async () => {
    await server.close();
    process.exit(0);
  });
} else {
  const { openLog } = await import('../../packages/core/dist/index.js');
  const { connect } = await import('../../packages/client/dist/index.js');
  const total = Number(values.count);
  const dir = values.dir ?? join(tmpdir(), `strand-catchup-${total}`);
  if (!existsSync(join(dir, 'loaded'))) {
    const log = await openLog({ path: dir });
    for (let b = 0; b < total / 100; b++) {
      await log.append(`load/s-${b % 1000}`, Array.from({ length: 100 }, (_, k) => ({ type: 'Loaded', data: { n: b * 100 + k, note: 'x'.repeat(180 - String(b * 100 + k).length) } })));
    }
    await log.close();
    writeFileSync(join(dir, 'loaded'), '');
  }
  // utime + stime of a process, ms (Linux: clock ticks of 10 ms).
  const cpuMs = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  };
  const drain = async (store) => {
    const abort = new AbortController();
    let n = 0;
    const t = performance.now();
    for await (const _ of store.follow('>', { from: 1, signal: abort.signal })) if (++n === total) abort.abort();
    return (total / (performance.now() - t)) * 1000;
  };
  {
    const log = await openLog({ path: dir });
    console.log(`in process: ${Math.round(await drain(log))} events/s`);
    await log.close();
  }
  for (const path of ['lean', 'connect-es']) {
    const args = [fileURLToPath(import.meta.url), '--child', '--dir', dir, ...(path === 'connect-es' ? ['--connect-es'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l).url)));
    for (let r = 0; r < Number(values.runs); r++) {
      const client = connect({ url, apiKey: KEY });
      const s0 = cpuMs(child.pid);
      const c0 = process.cpuUsage();
      const rate = await drain(client);
      const server = ((cpuMs(child.pid) - s0) * 1000) / total;
      const c = process.cpuUsage(c0);
      console.log(`${path}: ${Math.round(rate)} events/s, server ${server.toFixed(2)} µs/event, client ${((c.user + c.system) / total).toFixed(2)} µs/event`);
      await client.close();
    }
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
  }
}
