/**
 * W1 (`../shared/notes/peers.md`): sequential single-event durable appends with an expected
 * version over 200 streams, on Strand and on raw classic-level doing the same writes. Shared by the
 * core section (warm, in the bench process) and `w1-cold-child.ts` (a fresh process).
 *
 * @module
 */
import { ClassicLevel } from 'classic-level';
import { openLog } from '@strand/core';
import { payload } from './figure.js';

/** Per-append latencies in ms. */
export type Latencies = number[];

/** One side of W1: `append(i)` makes the i-th append (i from 0, in order). */
interface Side {
  append(i: number): Promise<void>;
  close(): Promise<void>;
}

/** W1 on a new Strand log at `dir`. */
async function strandSide(dir: string): Promise<Side> {
  const log = await openLog({ path: dir });
  const versions = new Array<number>(200).fill(0);
  return {
    async append(i) {
      const s = i % 200;
      await log.append(`acct/s-${s}`, [{ type: 'Deposited', data: payload(i) }], { expectedVersion: versions[s]! });
      versions[s]!++;
    },
    close: () => log.close(),
  };
}

/** W1 done by hand on a new raw classic-level at `dir` (read the head, one synced batch). */
async function rawSide(dir: string): Promise<Side> {
  const db = new ClassicLevel<string, string>(dir);
  await db.open();
  const versions = new Array<number>(200).fill(0);
  return {
    async append(i) {
      const s = i % 200;
      await db.get(`hacct/s-${s}`);
      await rawAppend(db, `acct/s-${s}`, ++versions[s]!, i + 1, i);
    },
    close: () => db.close(),
  };
}

/**
 * `n` appends on each side, the two taking turns in blocks of `block` appends, so that a stall of
 * the shared disk falls on both alike (a p99 is the 1% slowest: run one side after the other and
 * the ratio moves with whichever side met the stall). Each side has made `from` appends before.
 * Returns each append's latency in ms.
 */
async function turns(sides: Side[], from: number, n: number, block: number): Promise<Latencies[]> {
  const lat: Latencies[] = sides.map(() => []);
  const done = sides.map(() => 0);
  for (let b = 0; done.some((d) => d < n); b++) {
    const k = b % sides.length;
    const side = sides[k]!;
    for (let j = 0; j < block && done[k]! < n; j++) {
      const t0 = process.hrtime.bigint();
      await side.append(from + done[k]!++);
      lat[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return lat;
}

/** `n` appends on one side opened for it, closed after; each append's latency in ms. */
async function alone(open: Promise<Side>, n: number): Promise<Latencies> {
  const side = await open;
  try {
    return (await turns([side], 0, n, n))[0]!;
  } finally {
    await side.close();
  }
}

/** `n` W1 appends to a new Strand log at `dir`; returns each append's latency in ms. */
export async function w1Strand(dir: string, n: number): Promise<Latencies> {
  return alone(strandSide(dir), n);
}

/** One raw "append": the event under a global key and a stream key, plus the stream head, in one synced batch. */
export function rawAppend(db: ClassicLevel<string, string>, stream: string, version: number, position: number, i: number): Promise<void> {
  const value = JSON.stringify(payload(i));
  return db.batch(
    [
      { type: 'put', key: `g${String(position).padStart(12, '0')}`, value },
      { type: 'put', key: `s${stream}\u0000${String(version).padStart(12, '0')}`, value },
      { type: 'put', key: `h${stream}`, value: String(version) },
    ],
    { sync: true } as never,
  );
}

/** `n` W1 appends done by hand on raw classic-level at `dir`; returns each append's latency in ms. */
export async function w1Raw(dir: string, n: number): Promise<Latencies> {
  return alone(rawSide(dir), n);
}

/**
 * W1 in a long-running process: Strand at `strandDir` and raw at `rawDir` each make `warm`
 * unmeasured appends, then `runs` measured windows of `n` appends, the two sides taking turns
 * every `block` appends, all on the same two stores. Measuring the stores that were warmed
 * matters: a new log in a warm process has V8 recompile parts of the append path for the new
 * instance's objects (0010, "Compiling the append path").
 */
export async function w1Side(strandDir: string, rawDir: string, warm: number, n: number, runs: number, block = 50): Promise<Array<{ strand: Latencies; raw: Latencies }>> {
  const sides = [await strandSide(strandDir), await rawSide(rawDir)];
  try {
    await turns(sides, 0, warm, block);
    const out: Array<{ strand: Latencies; raw: Latencies }> = [];
    for (let r = 0; r < runs; r++) {
      const [strand, raw] = await turns(sides, warm + r * n, n, block);
      out.push({ strand: strand!, raw: raw! });
    }
    return out;
  } finally {
    for (const side of sides) await side.close();
  }
}
