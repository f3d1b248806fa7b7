/**
 * The commit pipeline: the log's single writer. It queues requests, forms them into groups, checks
 * each against the stream heads (as left by earlier requests of its group and by groups still in
 * flight: the speculative heads), assigns versions and gapless positions, writes each group as one
 * atomic batch and acknowledges groups strictly in order. Design: docs/design/0002-commit-path.md.
 *
 * @module
 */
import { type PayloadCodec, type StoredHead, decodeHead, encodeHead } from '../codec.js';
import {
  CommitUnknownError,
  DuplicateEventIdError,
  StorageUnavailableError,
  type StrandError,
  StreamDeletedError,
  WrongExpectedVersionError,
  isStrandError,
} from '../errors.js';
import type { CachedHead, HeadCache } from '../head-cache.js';
import { encodeVersion, eventIdKey, globalKey, headKey, streamKey } from '../keys.js';
import type { LiveRing } from '../live-ring.js';
import { type AnyLevel, VALUE_OPTS, writeOptions } from '../log/context.js';
import type { CommitHook, Logger } from '../plugins.js';
import { decodeRecord } from '../record/decode.js';
import { RecordWriter } from '../record/format2.js';
import { TextRecordWriter } from '../record/format3.js';
import type { AppendResult, RecordedEvent } from '../types.js';
import { type BatchOp, HookTx } from './hook-tx.js';
import type { PreparedPart } from './prepare.js';

type Deferred<T> = { resolve: (v: T) => void; reject: (e: unknown) => void };

type Request =
  | ({ kind: 'append'; parts: PreparedPart[] } & Deferred<AppendResult[]>)
  | ({ kind: 'head'; stream: string; change: (head: CachedHead) => StoredHead } & Deferred<StoredHead>);

const EMPTY: readonly never[] = [];

/** What a {@link CommitPipeline} works with. */
export interface CommitPipelineOptions {
  store: AnyLevel;
  codec: PayloadCodec;
  /** The log is of record format 3 (text records, docs/design/0010); else format 2. */
  textRecords: boolean;
  /** Write batches with `sync: true` (durability 'sync'). */
  sync: boolean;
  /** The acknowledged heads (LRU); the pipeline keeps it exact for the streams it holds. */
  heads: HeadCache;
  /** Acknowledged events are pushed here for live followers. */
  ring: LiveRing;
  maxGroupSize: number;
  pipelineDepth: number;
  /** Run inside every commit; read live, so hooks added later take part. */
  commitHooks: readonly CommitHook[];
  /** The read interceptors, applied to the events commit hooks see. */
  intercept: (event: RecordedEvent) => RecordedEvent | undefined;
  /** Timestamps of new events and created times of new streams. */
  clock: () => number;
  logger: Logger;
  /** The last position in the store when the log opened. */
  lastPosition: number;
  /** Called after a group is acknowledged and the position moved, before its callers resolve. */
  onAdvance: (lastPosition: number) => void;
}

/**
 * The group-commit writer of one log (docs/design/0002-commit-path.md). `submitAppend` and
 * `submitHead` queue a request; the loop started by the first one drains the queue.
 */
export class CommitPipeline {
  private readonly o: CommitPipelineOptions;
  private readonly queue: Request[] = [];
  private committing = false;
  private loop: Promise<void> = Promise.resolve();
  /** Heads written by groups in flight (not yet acknowledged): the next group builds on them. */
  private readonly speculative = new Map<string, CachedHead>();
  /** First position of the next group (above `lastPosition` while groups are in flight). */
  private nextPosition: number;
  /** The last acknowledged position. */
  private acknowledged: number;
  /** Resolves true once every group issued so far committed, false if one failed. */
  private tail: Promise<boolean> = Promise.resolve(true);
  /** Groups whose write started and that are not acknowledged (or failed) yet. */
  private groupsInFlight = 0;
  /** Bumped when a failure discards the speculative state. */
  private pipelineGen = 0;
  /** Wakes the commit loop while it waits for a group in flight (an acknowledgement or a new request). */
  private wakeLoop: (() => void) | undefined;

  constructor(options: CommitPipelineOptions) {
    this.o = options;
    this.acknowledged = options.lastPosition;
    this.nextPosition = options.lastPosition + 1;
  }

  /** The last acknowledged global position. */
  get lastPosition(): number {
    return this.acknowledged;
  }

  /**
   * A read-only log's store moved on (a follower saw another process's commits up to `last`):
   * adopt that position, as if this log had acknowledged it. Never moves back; a no-op while this
   * log has groups of its own in flight (a writer learns positions only from its own commits).
   */
  observe(last: number): void {
    if (last <= this.acknowledged || this.groupsInFlight > 0) return;
    this.acknowledged = last;
    this.nextPosition = last + 1;
    this.o.onAdvance(last);
  }

  /** Resolves once every request queued so far is settled. */
  get drained(): Promise<void> {
    return this.loop;
  }

  /** Queues an append (one or several streams, atomically); resolves once it is acknowledged. */
  submitAppend(parts: PreparedPart[]): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'append', parts, resolve, reject });
      this.kick();
    });
  }

  /**
   * Queues a change of one stream's head (delete, truncate); `change` runs in the writer against
   * the head as the earlier requests leave it and may throw to reject the request.
   */
  submitHead(stream: string, change: (head: CachedHead) => StoredHead): Promise<StoredHead> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'head', stream, change, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.committing) {
      this.wakeLoop?.();
      return;
    }
    this.committing = true;
    this.loop = this.commitLoop();
  }

  /**
   * Takes every queued request (up to `maxGroupSize`) as one group; requests that arrive meanwhile
   * form the next group; up to `pipelineDepth` groups are written at once, and they are
   * acknowledged strictly in order (0002, "Pipelined groups").
   */
  private async commitLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.queue.length > 0 && this.groupsInFlight < this.o.pipelineDepth) {
          const group = this.queue.splice(0, this.o.maxGroupSize);
          try {
            await this.issueGroup(group);
          } catch (error) {
            // Only reached on bugs; fail the group rather than wedge the log.
            this.o.logger.error({ err: error }, 'commit group failed');
            for (const r of group) r.reject(error);
          }
          continue;
        }
        if (this.groupsInFlight === 0) break;
        // Woken by a group's acknowledgement, or by a new request (which waits if the pipeline is full).
        await new Promise<void>((resolve) => (this.wakeLoop = resolve));
        this.wakeLoop = undefined;
      }
    } finally {
      // Cleared in the same synchronous step that saw the queue empty: a request queued by a
      // continuation of the last group's callers must find the flag down and start a new loop.
      this.committing = false;
    }
  }

  /** Validates a group and starts its write; its acknowledgement follows the previous group's. */
  private async issueGroup(group: Request[]): Promise<void> {
    // The speculative heads this group builds on belong to this generation of the pipeline.
    const gen = this.pipelineGen;
    const working = new Map<string, CachedHead>();
    await this.loadHeads(group, working);
    const usedIds = await this.loadGivenIds(group);
    const pending = new Map<string, RecordedEvent[]>();
    const overlay = new Map<string, unknown>();
    const ops: BatchOp[] = [];
    const accepted: Array<{ req: Request; value: AppendResult[] | StoredHead }> = [];
    const newEvents: Array<{ position: number; bytes: Uint8Array }> = [];
    // 0002, "Why the global order is gapless": positions are assigned here only, consecutively,
    // and a rejected request consumes none (`next` moves only when a request is accepted).
    let next = this.nextPosition;
    const now = this.o.clock();

    for (let g = 0; g < group.length; g++) {
      const req = group[g]!;
      try {
        if (req.kind === 'head') {
          const head = req.change(working.get(req.stream) ?? null);
          working.set(req.stream, head);
          ops.push({ type: 'put', key: headKey(req.stream), value: encodeHead(head) });
          accepted.push({ req, value: head });
          continue;
        }
        const replay = await this.checkReplay(req.parts, working, pending);
        if (replay) {
          accepted.push({ req, value: replay });
          continue;
        }
        const idNames = checkGivenIds(req.parts, usedIds);
        const { results, reqOps, reqEvents, heads, end } = this.encodeRequest(req.parts, working, next, now);
        if (this.o.commitHooks.length > 0) {
          const tx = new HookTx(overlay);
          const all = results.flatMap((r) => r.events).map((e) => this.o.intercept(e)).filter((e): e is RecordedEvent => e !== undefined);
          for (const hook of this.o.commitHooks) await hook.onCommit(all, tx);
          tx.merge(reqOps);
        }
        // Accept: publish this request's effects to the group.
        heads.forEach((head, stream) => working.set(stream, head));
        for (let i = 0; i < results.length; i++) {
          const r = results[i]!;
          const list = pending.get(r.stream);
          // The first list is a copy: `r.events` is also the caller's result.
          if (list === undefined) pending.set(r.stream, r.events.slice());
          else for (let j = 0; j < r.events.length; j++) list.push(r.events[j]!);
        }
        for (let i = 0; i < idNames.length; i++) usedIds.add(idNames[i]!);
        for (let i = 0; i < reqOps.length; i++) ops.push(reqOps[i]!);
        for (let i = 0; i < reqEvents.length; i++) newEvents.push(reqEvents[i]!);
        next = end;
        accepted.push({ req, value: results });
      } catch (error) {
        req.reject(error);
      }
    }
    if (accepted.length === 0) return;
    if (gen !== this.pipelineGen) {
      // A group in flight failed while this one was being validated (its heads were read, or its
      // hooks ran, across an await): it may have built on that group's heads, which never became
      // durable, while the positions were reset under it. It fails like every group built on a
      // failed one (0002, "Pipelined groups").
      const error = new StorageUnavailableError('append', new Error('an earlier group commit in the pipeline failed'));
      for (const a of accepted) a.req.reject(error);
      return;
    }
    // 0002, "Design: one writer, group commit": the whole group is one atomic batch. Started now,
    // awaited in order: with a pipeline, later groups are written meanwhile (0002, "Pipelined groups").
    const write = ops.length > 0 ? (this.o.store.batch(ops as never, writeOptions(this.o.sync)) as Promise<void>) : Promise.resolve();
    write.catch(() => {});
    working.forEach((head, stream) => this.speculative.set(stream, head));
    this.nextPosition = next;
    const previous = this.tail;
    this.groupsInFlight++;
    this.tail = this.acknowledge(previous, write, accepted, working, newEvents, next - 1, gen).finally(() => {
      this.groupsInFlight--;
      this.wakeLoop?.();
    });
  }

  /**
   * Encodes one append request against the group's working heads: versions from `working`,
   * positions from `next` on, each event once into one buffer (0002, "Design: one writer, group
   * commit"; 0010, "Record format 2" and "3"). Throws the request's own error (a wrong expected
   * version, a deleted stream) before anything is published. Kept out of {@link issueGroup}: one
   * async function holding this loop was the append path's largest optimised build, 215-246 ms of
   * compiler CPU, rebuilt whenever it deoptimised (0010, "Compiling the append path").
   */
  private encodeRequest(
    parts: readonly PreparedPart[],
    working: Map<string, CachedHead>,
    next: number,
    now: number,
  ): { results: AppendResult[]; reqOps: BatchOp[]; reqEvents: Array<{ position: number; bytes: Uint8Array }>; heads: Map<string, StoredHead>; end: number } {
    const results: AppendResult[] = [];
    const reqOps: BatchOp[] = [];
    const reqEvents: Array<{ position: number; bytes: Uint8Array }> = [];
    const heads = new Map<string, StoredHead>();
    let pos = next;
    const writer = this.o.textRecords ? new TextRecordWriter() : new RecordWriter();
    const keyed: Array<{ prefix: Uint8Array; version: number; position: number }> = [];
    const headOps: BatchOp[] = [];
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p]!;
      const head = working.get(part.stream) ?? null;
      checkExpected(part, head);
      const base = head?.version ?? 0;
      const recorded: RecordedEvent[] = new Array(part.events.length);
      for (let i = 0; i < part.events.length; i++) {
        const e = part.events[i]!;
        const version = base + i + 1;
        const position = pos++;
        writer.add(part.stream, part.name, e.typeBytes, { version, position, type: e.type, id: e.id, timestamp: now, metadata: e.metaBytes, schemaVersion: e.schemaVersion, data: e.bytes });
        keyed.push({ prefix: part.prefix, version, position });
        if (e.idGiven) reqOps.push({ type: 'put', key: eventIdKey(part.prefix, e.id), value: encodeVersion(version) });
        recorded[i] = { stream: part.stream, version, position, type: e.type, id: e.id, timestamp: now, data: e.data, metadata: e.metadata, schemaVersion: e.schemaVersion };
      }
      const last = recorded[recorded.length - 1]!;
      const newHead: StoredHead = {
        version: last.version,
        lastPosition: last.position,
        created: head?.created ?? now,
        truncatedBefore: head?.truncatedBefore ?? 1,
        truncatedThrough: head === null ? 0 : head.truncatedThrough,
        deleted: false,
        lastId: last.id,
      };
      heads.set(part.stream, newHead);
      headOps.push({ type: 'put', key: headKey(part.stream), value: encodeHead(newHead) });
      results.push({ stream: part.stream, version: last.version, firstPosition: recorded[0]!.position, position: last.position, events: recorded, idempotent: false });
    }
    const values = writer.finish();
    for (let i = 0; i < keyed.length; i++) {
      const k = keyed[i]!;
      const [global, stream] = values[i]!;
      reqOps.push({ type: 'put', key: globalKey(k.position), value: global });
      reqOps.push({ type: 'put', key: streamKey(k.prefix, k.version), value: stream });
      reqEvents.push({ position: k.position, bytes: global });
    }
    for (let i = 0; i < headOps.length; i++) reqOps.push(headOps[i]!);
    return { results, reqOps, reqEvents, heads, end: pos };
  }

  /**
   * Waits for a group's write, after the previous group's acknowledgement (groups are
   * acknowledged strictly in order, 0002, "Pipelined groups"), then acknowledges or fails it;
   * resolves whether it became durable.
   */
  private async acknowledge(
    previous: Promise<boolean>,
    write: Promise<void>,
    accepted: Array<{ req: Request; value: AppendResult[] | StoredHead }>,
    working: Map<string, CachedHead>,
    newEvents: Array<{ position: number; bytes: Uint8Array }>,
    last: number,
    gen: number,
  ): Promise<boolean> {
    let failure: unknown;
    if (!(await previous)) {
      // This group's own write may have failed for a reason its callers must hear (a fenced
      // writer, an unknown outcome): that one, else the earlier group's failure.
      failure = await write.then(
        () => new Error('an earlier group commit in the pipeline failed'),
        (cause: unknown) => cause,
      );
    } else {
      try {
        await write;
      } catch (cause) {
        failure = cause;
      }
    }
    if (failure !== undefined) {
      this.failGroup(accepted, failure, gen);
      return false;
    }
    this.acknowledgeGroup(working, newEvents, last);
    for (let i = 0; i < accepted.length; i++) (accepted[i]!.req.resolve as (v: unknown) => void)(accepted[i]!.value);
    return true;
  }

  /**
   * A group's write failed (or an earlier one did): reject its requests and, once per failure,
   * drop everything built on it. 0002, "Design: one writer, group commit" and "Pipelined groups":
   * nothing is cached and positions are not consumed, so the next group starts again from the
   * acknowledged state. (Heads read into a group's working copy from the store were never cached.)
   */
  private failGroup(accepted: Array<{ req: Request }>, failure: unknown, gen: number): void {
    const error = commitFailure(failure);
    this.o.logger.error({ err: failure }, 'group commit failed');
    for (const a of accepted) a.req.reject(error);
    if (gen !== this.pipelineGen) return;
    this.pipelineGen++;
    this.speculative.clear();
    this.nextPosition = this.acknowledged + 1;
    this.tail = Promise.resolve(true);
  }

  /**
   * A group is durable: only now do the head cache, the live ring and the position move
   * (0002, "Why the global order is gapless": live readers never read past the position).
   */
  private acknowledgeGroup(working: Map<string, CachedHead>, newEvents: Array<{ position: number; bytes: Uint8Array }>, last: number): void {
    for (const [stream, head] of working) {
      this.o.heads.set(stream, head);
      if (this.speculative.get(stream) === head) this.speculative.delete(stream);
    }
    for (const e of newEvents) this.o.ring.push(e.position, e.bytes);
    if (last > this.acknowledged) {
      this.acknowledged = last;
      this.o.onAdvance(last);
    }
  }

  /** The caller-given ids of a group that are already committed in their streams (one store read). */
  private async loadGivenIds(group: Request[]): Promise<Set<string>> {
    const names: string[] = [];
    const keys: Uint8Array[] = [];
    for (const req of group) {
      if (req.kind !== 'append') continue;
      for (const part of req.parts) {
        for (const e of part.events) {
          if (!e.idGiven) continue;
          names.push(idName(part.stream, e.id));
          keys.push(eventIdKey(part.prefix, e.id));
        }
      }
    }
    const used = new Set<string>();
    if (keys.length === 0) return used;
    let values: Array<Uint8Array | undefined>;
    try {
      values = (await this.o.store.getMany(keys, VALUE_OPTS)) as Array<Uint8Array | undefined>;
    } catch (cause) {
      const error = new StorageUnavailableError('reading event ids', cause);
      for (const r of group) r.reject(error);
      throw error;
    }
    values.forEach((v, i) => {
      if (v !== undefined) used.add(names[i]!);
    });
    return used;
  }

  /** Fills `working` with the heads of the group's streams: speculative, cached, else one `getMany`. */
  private async loadHeads(group: Request[], working: Map<string, CachedHead>): Promise<void> {
    const missing: string[] = [];
    for (const req of group) {
      const streams = req.kind === 'head' ? [req.stream] : req.parts.map((p) => p.stream);
      for (const s of streams) {
        if (working.has(s)) continue;
        const cached = this.speculative.has(s) ? this.speculative.get(s) : this.o.heads.get(s);
        if (cached !== undefined) working.set(s, cached);
        else {
          working.set(s, null);
          missing.push(s);
        }
      }
    }
    if (missing.length === 0) return;
    let values: Array<Uint8Array | undefined>;
    try {
      values = (await this.o.store.getMany(missing.map(headKey), VALUE_OPTS)) as Array<Uint8Array | undefined>;
    } catch (cause) {
      const error = new StorageUnavailableError('reading stream heads', cause);
      for (const r of group) r.reject(error);
      throw error;
    }
    missing.forEach((s, i) => {
      const v = values[i];
      working.set(s, v === undefined ? null : decodeHead(v));
    });
  }

  /**
   * A retry of an append that already committed (0002, "Idempotency"): every event id was given
   * by the caller and the same ids sit at exactly the versions this append would have produced
   * the first time.
   */
  private async checkReplay(parts: PreparedPart[], working: Map<string, CachedHead>, pending: Map<string, RecordedEvent[]>): Promise<AppendResult[] | undefined> {
    const results: AppendResult[] = [];
    for (const part of parts) {
      if (!part.events.every((e) => e.idGiven)) return undefined;
      const head = working.get(part.stream) ?? null;
      if (head === null) return undefined;
      const e = part.expected;
      const k = part.events.length;
      let base: number;
      if (typeof e === 'number' || e === 'no_stream') {
        base = e === 'no_stream' ? 0 : e;
        if (base >= head.version) return undefined;
      } else {
        if (head.lastId !== part.events[k - 1]!.id) return undefined;
        base = head.version - k;
      }
      if (base < 0 || base + k > head.version) return undefined;
      const stored = await this.eventsAt(part, base + 1, base + k, pending);
      const matches = stored.length === k && stored.every((s, i) => s.id === part.events[i]!.id);
      if (!matches) {
        const clash = part.events.find((ev) => stored.some((s) => s.id === ev.id));
        if (clash) throw new DuplicateEventIdError(part.stream, clash.id);
        return undefined;
      }
      results.push({ stream: part.stream, version: base + k, firstPosition: stored[0]!.position, position: stored[k - 1]!.position, events: stored, idempotent: true });
    }
    return results;
  }

  private async eventsAt(part: PreparedPart, from: number, to: number, pending: Map<string, RecordedEvent[]>): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    const values = await this.o.store.values({ gte: streamKey(part.prefix, from), lte: streamKey(part.prefix, to), ...VALUE_OPTS }).all();
    for (const v of values) out.push(decodeRecord(v as Uint8Array, this.o.codec, part.stream));
    for (const p of pending.get(part.stream) ?? EMPTY) if (p.version >= from && p.version <= to && !out.some((o) => o.version === p.version)) out.push(p);
    out.sort((a, b) => a.version - b.version);
    return out;
  }
}

/** A caller-given id's name within a group: its stream and the id (0001, event-id space). */
function idName(stream: string, id: string): string {
  return `${stream}\u0000${id}`;
}

/**
 * Throws if a caller-given id of `parts` is already used in its stream (0001, event-id space);
 * returns the names of their given ids, for `usedIds` once the request is accepted.
 */
function checkGivenIds(parts: readonly PreparedPart[], usedIds: Set<string>): readonly string[] {
  let names: string[] | undefined;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!;
    for (let i = 0; i < part.events.length; i++) {
      const e = part.events[i]!;
      if (!e.idGiven) continue;
      const name = idName(part.stream, e.id);
      if (usedIds.has(name)) throw new DuplicateEventIdError(part.stream, e.id);
      (names ??= []).push(name);
    }
  }
  return names ?? EMPTY;
}

/** The deleted-stream and expected-version checks of one part against its stream's head. */
function checkExpected(part: PreparedPart, head: CachedHead): void {
  if (head?.deleted && !part.recreate) throw new StreamDeletedError(part.stream);
  const actual = head === null ? -1 : head.version;
  const e = part.expected;
  const ok =
    e === 'any' ||
    (e === 'no_stream' && head === null) ||
    (e === 'stream_exists' && head !== null) ||
    (typeof e === 'number' && (head?.version ?? 0) === e);
  if (!ok) throw new WrongExpectedVersionError(part.stream, e, actual);
}

/**
 * The error a failed group's callers get (docs/errors.md, "What a failed write left behind"): a
 * fenced store's `STRAND_FENCED` as it is (kind `closed`: stop this writer, do not retry); an
 * unknown outcome as `STRAND_COMMIT_UNKNOWN` (re-send with the same ids); anything else as
 * `STRAND_STORAGE_UNAVAILABLE` (nothing of the group was written).
 */
function commitFailure(failure: unknown): StrandError {
  if (isStrandError(failure, 'STRAND_FENCED')) return failure;
  if (isStrandError(failure, 'STRAND_COMMIT_UNKNOWN')) return new CommitUnknownError('append', failure);
  return new StorageUnavailableError('append', failure);
}
