/**
 * The soak figure of issue 23: throughput over a run of appends with truncating snapshot policies
 * on LevelDB, last window over first, beside the same run without truncation (same machine, same
 * run). A ratio near 1 means the log does not slow down as history is truncated.
 *
 * @module
 */
import { soak } from '../support/soak.js';
import { type BenchContext, type BenchSection, type Figure, round } from './figure.js';

async function run(ctx: BenchContext): Promise<Figure[]> {
  const seconds = Math.max(20, Math.round(120 * ctx.scale));
  ctx.log(`soak with truncation, ${seconds} s...`);
  const truncating = await soak(await ctx.tmpdir('soak-trunc'), { seconds });
  ctx.log(`soak without truncation, ${seconds} s...`);
  const plain = await soak(await ctx.tmpdir('soak-plain'), { seconds, truncateEvery: 0 });
  return [
    {
      id: 'soak.throughput_ratio_last_first',
      value: round(truncating.ratio),
      unit: 'ratio',
      reference: { name: 'same soak without truncation, same run', value: round(plain.ratio) },
      note: `${seconds} s of 8 appenders over 100 streams, each truncated behind its head every 5 events (${truncating.truncations} truncations, ${truncating.compactions} background compactions); windows ${truncating.windows.map((w) => Math.round(w)).join(', ')} events/s`,
    },
  ];
}

/** The soak section. */
export const soakSection: BenchSection = { name: 'soak', run };
