/**
 * Projections over truncated streams (docs/design/0007, "Truncated streams"). A projection
 * follows global order; events removed by `truncateBefore` leave holes in it, so a projection
 * that reached them after they were removed would fold only what is left and be silently wrong.
 *
 * Global order is gapless (0002), and truncation is the only thing that removes events from it,
 * so the engine knows exactly which positions it passed while they were missing: it records each
 * run of them (a *gap*) with its checkpoint. A stream's head records the position of its newest
 * truncated event (`truncatedThrough`). Before the first event of a matched stream is dispatched
 * (the first since the guard last forgot the stream), the guard asks whether that position lies in
 * a gap: if not, the projection saw the stream's truncated history before it was removed (or
 * handled it through the archive or by its declaration at an earlier check). If so, the missed
 * events come from the archive the retention policy wrote them to, or the stream is parked with
 * `STRAND_STREAM_TRUNCATED`, unless the projection declared that it starts truncated streams from
 * their first kept event.
 *
 * @module
 */
import type { EventStore, RecordedEvent, Sublevel } from '@strand/core';
import { StreamHistoryMissingError } from './errors.js';

/** Reads archived (truncated) events of a stream back, in version order: `@strand/store-s3`'s `s3Archive` is one. */
export interface ArchiveReader {
  /** Archived events of `stream` from version `from` (default 1), in version order. */
  read(stream: string, options?: { from?: number }): AsyncIterable<RecordedEvent>;
}

/** How a projection starts a stream whose early history was truncated before it saw it. */
export type TruncatedStart =
  /** Park the stream with `STRAND_STREAM_TRUNCATED` (default): its read model would be incomplete. */
  | 'park'
  /** Start from the first kept event: the projection's handlers do not need the earlier history. */
  | 'from-first-kept';

/** What to do before dispatching an event. */
export type Verdict =
  | { readonly kind: 'ok' }
  /** Apply these archived events first (in order), then the event. */
  | { readonly kind: 'replay'; readonly missed: readonly RecordedEvent[] }
  /** Park the stream with this error. */
  | { readonly kind: 'park'; readonly error: StreamHistoryMissingError };

const OK: Verdict = { kind: 'ok' };

/** Key of a gap in the generation's metadata: `gap:` and its first position, fixed width. */
const gapKey = (start: number) => `gap:${String(start).padStart(16, '0')}`;

/**
 * Remembers the gaps a generation passed (in its metadata, committed with its checkpoint) and the
 * last event dispatched per stream above the checkpoint, and judges the next event of a stream.
 */
export class TruncationGuard {
  /** Last dispatched event per stream, forgotten once the checkpoint passes it (bounded memory). */
  private readonly seen = new Map<string, { version: number; position: number }>();
  /** Gaps seen since the last commit, `[first, last]` positions. */
  private pending: Array<[number, number]> = [];
  /** True once any gap is known: until then no check needs the store. */
  private anyGap = false;

  constructor(
    private readonly log: EventStore,
    private readonly meta: Sublevel,
    private readonly projection: string,
    private readonly archive: ArchiveReader | undefined,
    private readonly start: TruncatedStart,
  ) {}

  /** Loads whether the generation ever passed a gap. */
  async load(): Promise<void> {
    this.seen.clear();
    this.pending = [];
    this.anyGap = (await this.meta.keys({ gte: 'gap:', lt: 'gap;', limit: 1 }).all()).length > 0;
  }

  /** Records positions `first..last` as passed while missing from global order. */
  gap(first: number, last: number): void {
    this.pending.push([first, last]);
    this.anyGap = true;
  }

  /** The gap records to commit with the checkpoint (then forgotten here: the store has them). */
  drainOps(): Array<{ type: 'put'; key: string; value: number; sublevel: Sublevel }> {
    const ops = this.pending.map(([first, last]) => ({ type: 'put' as const, key: gapKey(first), value: last, sublevel: this.meta }));
    this.pending = [];
    return ops;
  }

  /** The last gap found by {@link inGap} (archived events of a stream mostly share one). */
  private lastGap: [number, number] = [0, -1];

  /** True if the generation passed `position` while it was missing. */
  private async inGap(position: number): Promise<boolean> {
    if (position >= this.lastGap[0] && position <= this.lastGap[1]) return true;
    for (const [first, last] of this.pending) if (position >= first && position <= last) return true;
    const below = (await this.meta.iterator({ gte: 'gap:', lte: gapKey(position), reverse: true, limit: 1 }).all()) as Array<[string, number]>;
    if (below.length === 0 || below[0]![1] < position) return false;
    this.lastGap = [Number(below[0]![0].slice(4)), below[0]![1]];
    return true;
  }

  /**
   * Judges an event of a matched stream before it is dispatched. `applied` reads the version the
   * stream's version key holds (events applied above the checkpoint before a crash).
   */
  check(e: RecordedEvent, applied: (stream: string) => Promise<number>): Verdict | Promise<Verdict> {
    // Runs for every dispatched event: the common answer is given without a promise, and the
    // stream's entry is updated in place.
    const prior = this.seen.get(e.stream);
    const priorVersion = prior?.version;
    if (prior === undefined) this.seen.set(e.stream, { version: e.version, position: e.position });
    else {
      prior.version = e.version;
      prior.position = e.position;
    }
    if (e.version === 1 || (priorVersion !== undefined && e.version === priorVersion + 1) || !this.anyGap) return OK;
    return this.judge(e, applied);
  }

  /** The rest of {@link check}: a stream whose history this generation may have missed. */
  private async judge(e: RecordedEvent, applied: (stream: string) => Promise<number>): Promise<Verdict> {
    const info = await this.log.streamInfo(e.stream);
    // Nothing truncated, or its newest truncated event was there when this generation passed it.
    if (info === undefined || info.truncatedBefore <= 1) return OK;
    const through = info.truncatedThrough ?? info.lastPosition;
    if (!(await this.inGap(through))) return OK;
    const done = await applied(e.stream);
    if (this.archive !== undefined) {
      const missed: RecordedEvent[] = [];
      let before: RecordedEvent | undefined;
      for await (const a of this.archive.read(e.stream, { from: 1 })) {
        if (a.version >= e.version) break;
        if (await this.inGap(a.position)) {
          if (a.version > done) missed.push(a);
        } else if (missed.length === 0) before = a;
      }
      // Complete only if the archive holds every missed version: from the one after an event this
      // generation saw (or from 1) up to the newest truncated one, without a hole.
      const first = missed[0];
      const contiguous = missed.every((m, i) => i === 0 || m.version === missed[i - 1]!.version + 1);
      const reachesEnd = missed.length > 0 ? missed.at(-1)!.version >= Math.min(info.truncatedBefore - 1, e.version - 1) : done >= info.truncatedBefore - 1;
      const startsRight = first === undefined || first.version === 1 || first.version === (before?.version ?? -1) + 1 || first.version === done + 1;
      if (contiguous && reachesEnd && startsRight) return missed.length === 0 ? OK : { kind: 'replay', missed };
    }
    if (this.start === 'from-first-kept') return OK;
    return { kind: 'park', error: new StreamHistoryMissingError(this.projection, e.stream, e.version, through, this.archive !== undefined) };
  }

  /** Forgets streams whose last dispatched event is at or below the committed checkpoint. */
  prune(checkpoint: number): void {
    for (const [stream, s] of this.seen) if (s.position <= checkpoint) this.seen.delete(stream);
  }

  /** Records an event applied outside dispatch (a retry's replay). */
  saw(e: RecordedEvent): void {
    this.seen.set(e.stream, { version: e.version, position: e.position });
  }
}
