import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { soak } from '../support/soak.js';

// Issue 23: truncating snapshot policies must not slow the log down over time. Bounded in CI
// (STRAND_SOAK_SECONDS, default 15); a long run (STRAND_SOAK_SECONDS=300) also checks that the last
// window's throughput is >= 0.9 of the first's, which a short run on a shared machine cannot
// measure reliably.
const seconds = Number(process.env.STRAND_SOAK_SECONDS ?? 15);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('soak: appends with truncating snapshot policies on LevelDB', () => {
  it(`keeps truncation's compaction in the background, coalesced and under a tenth of the time (${seconds} s)`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-soak-'));
    dirs.push(dir);
    const r = await soak(dir, { seconds });
    console.log(
      `soak ${seconds} s: ${r.events} events, ${r.truncations} truncations, ${r.compactions} compactions (${Math.round(r.compactionMs)} ms), ` +
        `windows ${r.windows.map((w) => Math.round(w)).join(', ')} events/s, last/first ${r.ratio.toFixed(2)}`,
    );
    expect(r.truncations).toBeGreaterThan(50);
    // Coalesced and paced: far fewer compactions than truncations, at most one per 250 ms...
    expect(r.compactions).toBeLessThan(r.truncations / 5);
    expect(r.compactions).toBeLessThanOrEqual(1 + Math.ceil(r.elapsedMs / 250));
    // ...and compaction took at most about a tenth of the run (plus the one under way at the end).
    expect(r.compactionMs).toBeLessThanOrEqual(0.15 * r.elapsedMs + 2000);
    if (seconds >= 60) expect(r.ratio).toBeGreaterThanOrEqual(0.9);
  }, (seconds + 120) * 1000);
});
