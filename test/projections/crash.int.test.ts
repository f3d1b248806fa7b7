import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLog } from '@strand/core';
import { ProjectionRunner } from '@strand/projections';
import { describe, expect, it } from 'vitest';
import { runUntilKilled } from '../support/child.js';
import { counting } from './counting.js';

// A process appending and projecting is SIGKILLed at random moments (after a random number of
// acknowledged appends, with the projection somewhere behind). After each restart the read model
// must equal a fold of the log: nothing applied twice, nothing skipped. The kill points come from
// the seed, printed with every assertion: replay a failure with STRAND_CRASH_SEED=<seed>.
const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const rounds = Number(process.env.STRAND_CRASH_ROUNDS ?? 4);

async function runAndKill(dir: string, after: number): Promise<number> {
  let acks = 0;
  let projected = 0;
  await runUntilKilled(child, [dir], (line) => {
    if (!line.startsWith('ACK ')) return false;
    projected = Number(line.split(' ')[2]);
    return ++acks === after;
  });
  return projected;
}

describe('projection crash safety (SIGKILL)', () => {
  it(`keeps the read model equal to a fold of the log over ${rounds} kills`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-proj-crash-'));
    const seed = Number(process.env.STRAND_CRASH_SEED ?? Date.now() % 1_000_000);
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
        expect(runner.parked(), `nothing parked (a double application would throw and park), round ${round} (seed ${seed})`).toEqual([]);
        await runner.stop();
        await log.close();
      }
    } catch (error) {
      throw new Error(`projection crash test failed; replay with STRAND_CRASH_SEED=${seed}: ${(error as Error).message}`, { cause: error });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
