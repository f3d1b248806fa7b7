import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openLog } from '@strand/core';
import { ProjectionRunner } from '@strand/projections';
import { describe, expect, it } from 'vitest';
import { counting } from './counting.js';

// A process appending and projecting is SIGKILLed at random moments (after a random number of
// acknowledged appends, with the projection somewhere behind). After each restart the read model
// must equal a fold of the log: nothing applied twice, nothing skipped.
const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const rounds = Number(process.env.STRAND_CRASH_ROUNDS ?? 4);

function runAndKill(dir: string, after: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'strand-source', child, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acks = 0;
    let projected = 0;
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += String(d)));
    createInterface({ input: p.stdout }).on('line', (line) => {
      if (!line.startsWith('ACK ')) return;
      projected = Number(line.split(' ')[2]);
      if (++acks === after) p.kill('SIGKILL');
    });
    p.on('exit', (_c, signal) => (signal === 'SIGKILL' ? resolve(projected) : reject(new Error(`child exited: ${stderr}`))));
  });
}

describe('projection crash safety (SIGKILL)', () => {
  it(`keeps the read model equal to a fold of the log over ${rounds} kills`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-proj-crash-'));
    const seed = Date.now() % 1000;
    try {
      for (let round = 0; round < rounds; round++) {
        const after = 30 + ((seed * (round + 3)) % 300);
        await runAndKill(dir, after);
        const log = await openLog({ path: dir });
        const runner = new ProjectionRunner(log, counting);
        await runner.start();
        await runner.waitFor(log.position, { timeoutMs: 20_000 });
        for (let s = 0; s < 13; s++) {
          const info = await log.streamInfo(`c/s-${s}`);
          const doc = (await runner.view().get('streams', `c/s-${s}`)) as { n: number; last: number } | undefined;
          expect(doc?.n ?? 0, `stream c/s-${s} after round ${round} (seed ${seed})`).toBe(info?.version ?? 0);
        }
        expect(runner.parked(), 'nothing parked (a double application would throw and park)').toEqual([]);
        await runner.stop();
        await log.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
