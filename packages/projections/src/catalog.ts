/**
 * The projections a log holds, as stored: the catalog every runner writes at start and at a
 * rebuild's swap, and each generation's committed checkpoint and parked streams. Tools (the
 * `strand projections` command) read projections through these functions, without knowing the
 * key layout, and without running the projection's handlers.
 *
 * @module
 */
import type { EventStore, Sublevel } from '@strand/core';
import type { ParkedStream } from './engine.js';

/** The sublevel listing every projection that ever started on this log, keyed by name. */
const CATALOG = 'projections';
const PARKED = 'parked:';

/** A projection's catalog entry: what a runner records about itself. */
export interface CatalogEntry {
  /** Projection name. */
  readonly name: string;
  /** Its stream patterns. */
  readonly patterns: readonly string[];
  /** The generation serving reads. */
  readonly generation: number;
  /** When the runner recorded the entry (ms since epoch). */
  readonly startedAt: number;
}

/** A projection as its stored state says it stands (read without running it). */
export interface StoredProjection {
  /** Projection name. */
  readonly name: string;
  /** Its stream patterns. */
  readonly patterns: readonly string[];
  /** The generation serving reads. */
  readonly generation: number;
  /** Every event up to here is applied and committed by that generation. */
  readonly position: number;
  /** Its parked streams. */
  readonly parked: readonly ParkedStream[];
}

/** The sublevel of one generation's checkpoint, per-stream versions and parked streams. */
export function generationMeta(log: Pick<EventStore, 'sublevel'>, projection: string, generation: number): Sublevel {
  return log.sublevel(`proj-${projection}-g${generation}`);
}

/** Records (or updates) a projection's catalog entry. */
export async function putCatalogEntry(log: Pick<EventStore, 'sublevel'>, entry: CatalogEntry): Promise<void> {
  await log.sublevel(CATALOG).put(entry.name, entry);
}

/** A generation's committed checkpoint (0 before its first commit). */
export async function readCheckpoint<T extends { checkpoint: number }>(meta: Sublevel): Promise<T | undefined> {
  return (await meta.get('state')) as T | undefined;
}

/** The key of a parked stream in a generation's sublevel. */
export function parkedKey(stream: string): string {
  return `${PARKED}${stream}`;
}

/** A generation's parked streams, in stream order. */
export async function* readParked(meta: Sublevel): AsyncIterable<ParkedStream> {
  for await (const [, value] of meta.iterator({ gte: PARKED, lt: 'parked;' })) yield value as ParkedStream;
}

/**
 * Every projection recorded on the log, with the committed position and parked streams of its
 * serving generation, in name order.
 *
 * @example
 * ```ts
 * for (const p of await listProjections(log)) console.log(p.name, log.position - p.position);
 * ```
 */
export async function listProjections(log: Pick<EventStore, 'sublevel'>): Promise<StoredProjection[]> {
  const out: StoredProjection[] = [];
  for await (const [, value] of log.sublevel(CATALOG).iterator()) {
    const entry = value as CatalogEntry;
    const meta = generationMeta(log, entry.name, entry.generation);
    const parked: ParkedStream[] = [];
    for await (const p of readParked(meta)) parked.push(p);
    out.push({ name: entry.name, patterns: entry.patterns, generation: entry.generation, position: (await readCheckpoint(meta))?.checkpoint ?? 0, parked });
  }
  return out;
}
