import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { S3Level } from './s3-level.js';
import { ensureRgw, rgwStore, uniquePrefix } from './testing/rgw.js';

const child = fileURLToPath(new URL('./testing/crash-writer.ts', import.meta.url));

/** The writer's configurations: one WAL PUT at a time, and WAL PUTs overlapping (writers out of step, no window, up to 4 in flight). */
const configs = [
  { name: 'one WAL PUT at a time (10 ms window)', writer: { options: { walPutsInFlight: 1 } }, minInFlight: 1 },
  { name: 'up to 4 WAL PUTs in flight', writer: { options: { flushIntervalMs: 0, walPutsInFlight: 4 }, jitterMs: 3 }, minInFlight: 2 },
];

describe('crash (SIGKILL) on a real S3 server', () => {
  it.each(configs)('every acknowledged write survives a SIGKILL, and batches stay atomic: $name', async ({ writer, minInFlight }) => {
    const env = await ensureRgw();
    const prefix = uniquePrefix('crash');
    const proc = spawn(process.execPath, ['--import', 'tsx', child, prefix, JSON.stringify(writer)], {
      env: {
        ...process.env,
        S3_ENDPOINT: env.endpoint,
        AWS_ACCESS_KEY_ID: env.accessKeyId,
        AWS_SECRET_ACCESS_KEY: env.secretAccessKey,
        S3_BUCKET: env.bucket,
        AWS_REGION: env.region,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ackedPuts = new Set<number>();
    const ackedBatches = new Set<number>();
    let inFlightMax = 0;
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      proc.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`writer exited early (${code}/${signal}): ${stderr}`));
      });
      proc.stdout.setEncoding('utf8').on('data', (d: string) => {
        pending += d;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const m = /^ack (put|batch) (\d+) (\d+)$/.exec(line);
          if (!m) continue;
          (m[1] === 'put' ? ackedPuts : ackedBatches).add(Number(m[2]));
          inFlightMax = Math.max(inFlightMax, Number(m[3]));
        }
        // Kill it mid-stream, with writes in flight.
        if (ackedPuts.size + ackedBatches.size >= 1500 && !proc.killed) {
          proc.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => proc.once('close', r));

    const store = rgwStore(env);
    const db = new S3Level<string, string>({ store, prefix });
    await db.open();
    try {
      const missing: string[] = [];
      for (const i of ackedPuts) {
        const v = await db.get(`put/${i}`);
        if (v !== `v${i}-${'x'.repeat(i % 100)}`) missing.push(`put/${i}`);
      }
      const batches = new Map<number, string[]>();
      for await (const [k, v] of db.iterator({ gte: 'batch/', lt: 'batch0' })) {
        const i = Number(k.split('/')[1]);
        expect(v).toBe(`b${i}`);
        batches.set(i, [...(batches.get(i) ?? []), k]);
      }
      for (const i of ackedBatches) if (!batches.has(i)) missing.push(`batch/${i}`);
      expect(missing).toEqual([]);
      // Atomicity, acknowledged or not: a batch is all there or not at all.
      for (const [i, keys] of batches) expect(keys.length, `batch ${i}`).toBe(3);
      expect(ackedPuts.size + ackedBatches.size).toBeGreaterThanOrEqual(1500);
      expect(inFlightMax).toBeGreaterThanOrEqual(minInFlight); // the configuration really overlapped PUTs
    } finally {
      await db.close();
      store.destroy();
    }
  }, 120_000);
});
