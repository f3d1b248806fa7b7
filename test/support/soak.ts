/**
 * The soak workload of issue 23: appenders on many aggregate streams, each stream truncated
 * behind a snapshot every few events (what snapshot policies do to hot aggregates), on LevelDB,
 * for a while; throughput measured per window. Shared by `test/core/soak.int.test.ts` and the
 * `soak` bench section.
 *
 * @module
 */
import { EventLog } from '@strand/core';
import { ClassicLevel } from 'classic-level';

/** LevelDB that counts and times the range compactions it is asked for. */
export class CountingLevel extends ClassicLevel<Uint8Array, Uint8Array> {
  compactions = 0;
  compactionMs = 0;

  override async compactRange(start: Uint8Array, end: Uint8Array, options?: object): Promise<void> {
    const t0 = process.hrtime.bigint();
    try {
      return await super.compactRange(start, end, options as never);
    } finally {
      this.compactions++;
      this.compactionMs += Number(process.hrtime.bigint() - t0) / 1e6;
    }
  }
}

/** What a soak run measured. */
export interface SoakResult {
  /** Events per second in each window, in order. */
  windows: number[];
  /** Last window's throughput over the first's. */
  ratio: number;
  events: number;
  truncations: number;
  compactions: number;
  /** Time spent inside `compactRange`, ms. */
  compactionMs: number;
  elapsedMs: number;
}

/**
 * Runs the workload on a fresh LevelDB in `dir` for `seconds`, split into `windows` windows.
 * `truncateEvery`: each stream is truncated behind its head every this many events (0 = never).
 */
export async function soak(dir: string, options: { seconds: number; windows?: number; truncateEvery?: number; appenders?: number; streams?: number }): Promise<SoakResult> {
  const windowsN = options.windows ?? 5;
  const truncateEvery = options.truncateEvery ?? 5;
  const streams = options.streams ?? 100;
  const store = new CountingLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const log = await EventLog.open({ store, ownsStore: true });
  const windowMs = (options.seconds * 1000) / windowsN;
  const counts = new Array<number>(windowsN).fill(0);
  const versions = new Array<number>(streams).fill(0);
  let truncations = 0;
  let events = 0;
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e6;
  const appenders = options.appenders ?? 8;
  // Appender `a` owns streams a, a + appenders, ...: never two appends on one stream at once.
  const worker = async (a: number): Promise<void> => {
    for (let i = 0; ; i++) {
      const now = elapsed();
      const w = Math.floor(now / windowMs);
      if (w >= windowsN) return;
      const s = a + appenders * (i % Math.max(1, Math.floor(streams / appenders)));
      const stream = `accounts/soak/a-${s}`;
      const note = 'x'.repeat(150);
      await log.append(stream, [{ type: 'Deposited', data: { amount: 1, note } }], { expectedVersion: versions[s] === 0 ? 'no_stream' : (versions[s] as number) });
      versions[s] = (versions[s] as number) + 1;
      counts[w] = (counts[w] as number) + 1;
      events++;
      if (truncateEvery > 0 && (versions[s] as number) % truncateEvery === 0) {
        // A snapshot at the head: history before it goes.
        await log.truncateBefore(stream, versions[s] as number);
        truncations++;
      }
    }
  };
  await Promise.all(Array.from({ length: appenders }, (_, a) => worker(a)));
  const elapsedMs = elapsed();
  await log.close();
  const windows = counts.map((c) => (c / windowMs) * 1000);
  return {
    windows,
    ratio: (windows[windowsN - 1] as number) / (windows[0] as number),
    events,
    truncations,
    compactions: store.compactions,
    compactionMs: store.compactionMs,
    elapsedMs,
  };
}
