/**
 * The benchmark's vocabulary: a figure is one measured number, shown beside the physical or peer
 * reference measured in the same run (raw classic-level doing the same work, an empty process...).
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The reference a figure is read against, measured in the same run. */
export interface Reference {
  /** What the reference is, e.g. "raw classic-level, one synced batch per append". */
  name: string;
  /** Its value, in the figure's unit. */
  value: number;
}

/** One measured number. */
export interface Figure {
  /** Stable id, e.g. `append.durable.events_per_s`. */
  id: string;
  /** Median of the runs. */
  value: number;
  /** Unit, e.g. `ms`, `events/s`, `MB`. */
  unit: string;
  /** The reference measured in the same run, when one applies. */
  reference?: Reference;
  /** One line for the human table: workload and spread. */
  note?: string;
}

/** What the runner hands each section. */
export interface BenchContext {
  /** Scale factor for workload sizes (1 = the sizes the issues name; smaller for a smoke run). */
  scale: number;
  /** Repetitions to take medians over. */
  runs: number;
  /** A fresh temporary directory, removed when the run ends. */
  tmpdir(label: string): Promise<string>;
  /** Progress line on stderr. */
  log(message: string): void;
}

/** A group of figures that share setup. */
export interface BenchSection {
  /** Short name, used by `--only`. */
  name: string;
  /** Measures and returns the figures. */
  run(ctx: BenchContext): Promise<Figure[]>;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (0..100, nearest rank) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of nothing');
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

/** Runs `fn` `runs` times and returns each result. */
export async function repeat<T>(runs: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn(i));
  return out;
}

/**
 * Runs a Strand measurement and its reference `rounds` times each, swapping which goes first
 * every round, so that a machine whose speed drifts (a shared or throttled CPU, a compaction in
 * the background) weighs on both sides alike.
 */
export async function alternate<T>(rounds: number, strand: () => Promise<T>, raw: () => Promise<T>): Promise<{ strand: T[]; raw: T[] }> {
  const out = { strand: [] as T[], raw: [] as T[] };
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      out.strand.push(await strand());
      out.raw.push(await raw());
    } else {
      out.raw.push(await raw());
      out.strand.push(await strand());
    }
  }
  return out;
}

/** Elapsed milliseconds of `fn`. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Runs `total` tasks with `inFlight` of them running at once; returns the elapsed ms. */
export async function pool(total: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  return timeMs(() =>
    Promise.all(
      Array.from({ length: inFlight }, async () => {
        for (let i = next++; i < total; i = next++) await task(i);
      }),
    ),
  );
}

/** Rounds to a readable number of significant digits. */
export function round(value: number, digits = 3): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const factor = 10 ** Math.max(0, digits - 1 - magnitude);
  return Math.round(value * factor) / factor;
}

/** Builds a context whose temporary directories live under one root removed by `dispose`. */
export async function createContext(scale: number, runs: number): Promise<BenchContext & { dispose(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'strand-bench-'));
  let n = 0;
  return {
    scale,
    runs,
    tmpdir: async (label) => {
      const dir = join(root, `${label}-${n++}`);
      return dir;
    },
    log: (message) => process.stderr.write(`[bench] ${message}\n`),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}

/** 200-byte JSON event payload, as in the peer measurements (`../shared/notes/peers.md`). */
export function payload(i: number): { n: number; note: string } {
  return { n: i, note: 'x'.repeat(180 - String(i).length) };
}
