/**
 * Commands across aggregates: a unit of work loads several aggregates, decides on each, and
 * commits every event in ONE atomic multi-stream append guarded by every stream's expected
 * version. On a conflict the whole decision runs again (fresh loads) after a jittered backoff.
 * Snapshot policies and command ids work as they do for `AggregateRepository.handle`.
 * Design: docs/design/0012-workflows.md.
 *
 * @module
 */
import {
  type EventLog,
  InvalidArgumentError,
  isStrandError,
  type Logger,
  type MultiAppendResult,
  type RecordedEvent,
  type StreamAppend,
  type Sublevel,
  silentLogger,
  WrongExpectedVersionError,
} from '@strand/core';
import type { z } from 'zod';
import type { Message, SchemaMap } from './define.js';
import { ConcurrencyRetriesExhaustedError } from './errors.js';
import { DuplicateCommand } from './command-ids.js';
import { type AggregateRepository, internals, type Loaded } from './repository.js';
import { type Backoff, backOff, resolveBackoff, type RetryOptions } from './retry.js';

/**
 * Options of a {@link UnitOfWork}. The conflict backoff ({@link RetryOptions}) starts at
 * `backoffMs` 2 and is capped at `maxBackoffMs` 100 by default.
 */
export interface UnitOfWorkOptions extends RetryOptions {
  /** Conflict retries before giving up (default 30: a unit of work often meets hot streams). */
  maxRetries?: number;
  /** Clock for `decide`'s context (default `Date.now`). */
  clock?: () => number;
  /** Structured logger (pino-compatible). */
  logger?: Logger;
}

/** Options of one {@link UnitOfWork.run}. */
export interface RunOptions {
  /**
   * Makes the whole unit idempotent: once committed, running it again with this id returns the
   * original commit (`idempotent: true`) and writes nothing. Also recorded per stream, as
   * `handle`'s command ids are.
   */
  commandId?: string;
  /** Metadata added to every event (correlation and causation ids, user...). */
  metadata?: Record<string, unknown>;
  /** Runs after the commit is acknowledged, before `run` resolves (e.g. read-your-writes). */
  afterCommit?: (result: UnitOfWorkResult) => Promise<void>;
}

/** Options of one command inside a unit of work. */
export interface TxHandleOptions {
  /** The aggregate must be at this version when loaded, and still be at commit (no retry if not). */
  expectedVersion?: number;
  /** Metadata for this command's events (merged over the run's). */
  metadata?: Record<string, unknown>;
}

/** What the work function decides with. */
export interface UnitOfWorkTx {
  /** The attempt (0 first; each conflict retry runs the work again). */
  readonly attempt: number;
  /** The decision time given to every `decide` of this attempt. */
  readonly now: number;
  /** Loads an aggregate (once per attempt), including the events already decided in this unit. */
  load<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(repository: AggregateRepository<C, E, S>, id: string): Promise<{ state: z.output<S>; version: number }>;
  /**
   * Decides a command on an aggregate as it stands in this unit (loaded state plus what earlier
   * commands of the unit decided). Throws the aggregate's `DomainError` when refused: the work
   * function may catch it and decide otherwise; if it escapes, nothing is written.
   */
  handle<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(repository: AggregateRepository<C, E, S>, id: string, command: Message<C>, options?: TxHandleOptions): Promise<Message<E>[]>;
  /**
   * Marks the decisions made so far; calling the returned function undoes every `handle` since
   * (e.g. to try an alternative after a refusal, keeping the unit all-or-nothing per branch).
   */
  savepoint(): () => void;
}

/** One stream's outcome in a committed unit of work. */
export interface UnitOfWorkStream {
  /** The stream. */
  readonly stream: string;
  /** Its aggregate's name. */
  readonly aggregate: string;
  /** Its version after the commit. */
  readonly version: number;
  /** The events written there. */
  readonly events: readonly RecordedEvent[];
}

/** Result of {@link UnitOfWork.run}. */
export interface UnitOfWorkResult {
  /** Global position of the commit's last event (0 when nothing was decided). */
  readonly position: number;
  /** Streams written, in the order the work first touched them. */
  readonly streams: readonly UnitOfWorkStream[];
  /** True when this command id had already committed: nothing was written. */
  readonly idempotent: boolean;
  /** Conflicts retried before success. */
  readonly retries: number;
}

interface UowRecord {
  position: number;
  parts: Array<{ stream: string; aggregate: string; firstVersion: number; version: number }>;
}

/** Internal signal from the unit-of-work hook; never escapes this module. */
class DuplicateUnitOfWork extends Error {
  constructor(readonly record: UowRecord) {
    super('This unit of work id was already committed.');
  }
}

/**
 * In-process stream locks shared by the units of work of one log. A log has one writer, so units
 * that would conflict usually run in the same process: they queue on the streams they touch
 * instead of deciding on stale state and retrying. Deadlock-free: a unit waits only for a stream
 * that sorts after every stream it holds; any other it takes only if free (else it goes on
 * optimistically, and its retry locks everything it touched, in order, before deciding).
 * The expected-version check stays the guard of correctness (docs/design/0012-workflows.md).
 */
class StreamLocks {
  private readonly tails = new Map<string, Promise<void>>();

  private take(stream: string, prev: Promise<void> | undefined): { ready: Promise<void>; release: () => void } {
    let open!: () => void;
    const mine = new Promise<void>((resolve) => (open = resolve));
    const tail = prev === undefined ? mine : prev.then(() => mine);
    this.tails.set(stream, tail);
    return {
      ready: prev ?? Promise.resolve(),
      release: () => {
        open();
        if (this.tails.get(stream) === tail) this.tails.delete(stream);
      },
    };
  }

  /** Waits for the stream's lock; resolves with its release. */
  async acquire(stream: string): Promise<() => void> {
    const h = this.take(stream, this.tails.get(stream));
    await h.ready;
    return h.release;
  }

  /** The stream's lock if it is free now. */
  tryAcquire(stream: string): (() => void) | undefined {
    return this.tails.has(stream) ? undefined : this.take(stream, undefined).release;
  }
}

// One command-id hook and one set of stream locks per log, shared by every UnitOfWork on it (two
// hooks would each record the same id and refuse each other's commits).
const hooks = new WeakMap<EventLog, { db: Sublevel; locks: StreamLocks; users: number; remove: () => void }>();

function acquireHook(log: EventLog): { db: Sublevel; locks: StreamLocks } {
  const existing = hooks.get(log);
  if (existing) {
    existing.users++;
    return existing;
  }
  const db = log.sublevel('commands-uow');
  const remove = log.addCommitHook({
    name: 'command-ids:unit-of-work',
    onCommit: async (events, tx) => {
      const id = (events[0]?.metadata as { uowCommandId?: unknown } | undefined)?.uowCommandId;
      if (typeof id !== 'string') return;
      const prior = (await tx.get(db, id)) as UowRecord | undefined;
      if (prior !== undefined && prior !== null) throw new DuplicateUnitOfWork(prior);
      const parts: UowRecord['parts'] = [];
      for (const e of events) {
        const last = parts[parts.length - 1];
        if (last?.stream === e.stream) last.version = e.version;
        else parts.push({ stream: e.stream, aggregate: String((e.metadata as { aggregate?: unknown } | undefined)?.aggregate ?? ''), firstVersion: e.version, version: e.version });
      }
      tx.put(db, id, { position: events[events.length - 1]!.position, parts } satisfies UowRecord);
    },
  });
  const entry = { db, locks: new StreamLocks(), users: 1, remove };
  hooks.set(log, entry);
  return entry;
}

function releaseHook(log: EventLog): void {
  const h = hooks.get(log);
  if (h === undefined) return;
  if (--h.users === 0) {
    h.remove();
    hooks.delete(log);
  }
}

interface Touched {
  repository: AggregateRepository<SchemaMap, SchemaMap, z.ZodType>;
  id: string;
  stream: string;
  loaded: Loaded<unknown>;
  state: unknown;
  expected: number | undefined;
  events: Message<SchemaMap>[];
  metadata: Array<Record<string, unknown>>;
}

/**
 * Runs decisions across several aggregates as one atomic commit.
 *
 * @example
 * ```ts
 * const uow = new UnitOfWork(log);
 * await uow.run(async (tx) => {
 *   await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o-1', quantity: 2 } });
 *   await tx.handle(orders, 'o-1', { type: 'Confirm', data: {} });
 * }, { commandId: 'confirm-o-1' });
 * ```
 */
export class UnitOfWork {
  private readonly options: { maxRetries: number; clock: () => number; logger: Logger };
  private readonly backoff: Backoff;
  private readonly records: Sublevel;
  private readonly locks: StreamLocks;
  private closed = false;

  constructor(
    private readonly log: EventLog,
    options: UnitOfWorkOptions = {},
  ) {
    if (log === null || typeof log !== 'object' || typeof log.appendMulti !== 'function') throw new InvalidArgumentError('UnitOfWork needs an open EventLog.');
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('UnitOfWork options must be an object.');
    const v = options.maxRetries;
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new InvalidArgumentError('maxRetries must be an integer >= 0.');
    if (options.clock !== undefined && typeof options.clock !== 'function') throw new InvalidArgumentError('clock must be a function.');
    this.backoff = resolveBackoff(options, { backoffMs: 2, maxBackoffMs: 100 });
    this.options = {
      maxRetries: options.maxRetries ?? 30,
      clock: options.clock ?? Date.now,
      logger: options.logger ?? silentLogger,
    };
    const shared = acquireHook(log);
    this.records = shared.db;
    this.locks = shared.locks;
  }

  /**
   * Runs `work` and commits what it decided in one atomic multi-stream append with every
   * stream's expected version. On `STRAND_WRONG_EXPECTED_VERSION` the work runs again on fresh
   * state after a jittered, doubling backoff, up to `maxRetries` times
   * (`STRAND_CONCURRENCY_RETRIES_EXHAUSTED` after that). Domain errors escape as they are;
   * nothing is written then.
   */
  async run(work: (tx: UnitOfWorkTx) => void | Promise<void>, options: RunOptions = {}): Promise<UnitOfWorkResult> {
    if (this.closed) throw new InvalidArgumentError('This UnitOfWork is closed.');
    if (typeof work !== 'function') throw new InvalidArgumentError('run needs a work function (tx) => ...');
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('run options must be an object.');
    const { commandId, metadata, afterCommit } = options;
    if (commandId !== undefined && (typeof commandId !== 'string' || commandId.length === 0 || commandId.length > 100)) {
      throw new InvalidArgumentError('commandId must be a string of 1 to 100 characters.');
    }
    if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) throw new InvalidArgumentError('metadata must be an object.');
    if (afterCommit !== undefined && typeof afterCommit !== 'function') throw new InvalidArgumentError('afterCommit must be a function.');
    const finish = async (result: UnitOfWorkResult) => {
      if (afterCommit) await afterCommit(result);
      return result;
    };
    if (commandId !== undefined) {
      const prior = await this.priorResult(commandId, 0);
      if (prior) return prior;
    }
    let lastConflict = '';
    let previous: string[] = [];
    for (let attempt = 0; attempt <= this.options.maxRetries; attempt++) {
      const held = new Map<string, () => void>();
      let done: UnitOfWorkResult | undefined;
      try {
        // A retry locks what the last attempt touched, in order, before deciding again.
        for (const stream of previous) held.set(stream, await this.locks.acquire(stream));
        const touched = new Map<string, Touched>();
        let outcome: Awaited<ReturnType<UnitOfWork['attempt']>>;
        try {
          outcome = await this.attempt(work, touched, held, attempt, commandId, metadata);
        } catch (error) {
          // A copy of this command that committed meanwhile wins over deciding again (which may
          // now be refused: the state already holds its effects).
          const prior = commandId === undefined ? undefined : await this.priorResult(commandId, attempt);
          if (prior === undefined) throw error;
          outcome = { kind: 'done', result: prior };
        }
        previous = [...touched.keys()].sort();
        if (outcome.kind === 'done') done = outcome.result;
        else lastConflict = outcome.stream;
      } finally {
        for (const release of held.values()) release();
      }
      // Locks are released before afterCommit, which may wait for read models.
      if (done !== undefined) return finish(done);
      if (attempt < this.options.maxRetries) await backOff(attempt, this.backoff);
    }
    throw new ConcurrencyRetriesExhaustedError(lastConflict, this.options.maxRetries + 1);
  }

  /** One attempt: run the work, commit; a conflict comes back as such, anything else throws. */
  private async attempt(
    work: (tx: UnitOfWorkTx) => void | Promise<void>,
    touched: Map<string, Touched>,
    held: Map<string, () => void>,
    attempt: number,
    commandId: string | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<{ kind: 'done'; result: UnitOfWorkResult } | { kind: 'conflict'; stream: string }> {
    {
      const now = this.options.clock();
      const tx = this.tx(touched, held, attempt, now);
      await work(tx);
      const parts: StreamAppend[] = [];
      const written: Touched[] = [];
      for (const t of touched.values()) {
        if (t.events.length === 0) continue;
        written.push(t);
        parts.push({
          stream: t.stream,
          expectedVersion: t.loaded.version,
          events: t.events.map((e, i) => ({
            type: e.type,
            data: e.data,
            ...(commandId === undefined ? {} : { id: `${commandId}:${i}` }),
            metadata: { ...metadata, ...t.metadata[i], aggregate: t.repository.definition.name, ...(commandId === undefined ? {} : { commandId, uowCommandId: commandId }) },
          })),
        });
      }
      if (parts.length === 0) return { kind: 'done', result: { position: 0, streams: [], idempotent: false, retries: attempt } };
      let appended: MultiAppendResult;
      try {
        appended = await this.log.appendMulti(parts);
      } catch (error) {
        if (error instanceof DuplicateUnitOfWork) return { kind: 'done', result: this.resultOf(error.record, attempt, await this.reread(error.record)) };
        if (error instanceof DuplicateCommand) {
          if (commandId !== undefined) {
            const prior = await this.priorResult(commandId, attempt);
            if (prior) return { kind: 'done', result: prior };
          }
          throw new InvalidArgumentError(`Command id ${commandId} was already used on ${error.stream} by a single-aggregate command; use a fresh id for this unit of work.`);
        }
        if (!isStrandError(error, 'STRAND_WRONG_EXPECTED_VERSION')) throw error;
        const stream = (error as WrongExpectedVersionError).stream;
        // A version the caller pinned (If-Match) is not ours to retry past.
        if (touched.get(stream)?.expected !== undefined) throw error;
        if (commandId !== undefined) {
          const prior = await this.priorResult(commandId, attempt);
          if (prior) return { kind: 'done', result: prior };
        }
        return { kind: 'conflict', stream };
      }
      const idempotent = appended.results.every((r) => r.idempotent);
      const streams = written.map((t, i) => ({ stream: t.stream, aggregate: t.repository.definition.name, version: appended.results[i]!.version, events: appended.results[i]!.events }));
      if (!idempotent) {
        written.forEach((t, i) => {
          t.repository[internals].afterAppend(t.stream, t.loaded, t.events, appended.results[i]!);
        });
      }
      return { kind: 'done', result: { position: appended.position, streams, idempotent, retries: attempt } };
    }
  }

  private tx(touched: Map<string, Touched>, held: Map<string, () => void>, attempt: number, now: number): UnitOfWorkTx {
    const log = this.log;
    const locks = this.locks;
    // Lock steps of one unit run one at a time, so its waits are always for a later stream.
    let locking: Promise<void> = Promise.resolve();
    const lock = (stream: string): Promise<void> => {
      locking = locking.then(async () => {
        if (held.has(stream)) return;
        let last = '';
        for (const s of held.keys()) if (s > last) last = s;
        if (held.size === 0 || stream > last) held.set(stream, await locks.acquire(stream));
        else {
          const release = locks.tryAcquire(stream);
          if (release) held.set(stream, release);
        }
      });
      return locking;
    };
    const enter = async (repository: AggregateRepository<SchemaMap, SchemaMap, z.ZodType>, id: string): Promise<Touched> => {
      if (repository === null || typeof repository !== 'object' || typeof repository.load !== 'function') throw new InvalidArgumentError('Pass an AggregateRepository.');
      if (repository.eventLog !== log) throw new InvalidArgumentError(`The repository of ${repository.definition.name} works on another log than this unit of work.`);
      const stream = repository.definition.streamOf(id);
      let t = touched.get(stream);
      if (t === undefined) {
        await lock(stream);
        const loaded = await repository.load(id);
        // Another call of the same work may have entered meanwhile (work that runs in parallel).
        t = touched.get(stream);
        if (t === undefined) {
          t = { repository, id, stream, loaded, state: loaded.state, expected: undefined, events: [], metadata: [] };
          touched.set(stream, t);
        }
      }
      if (t.repository !== repository) throw new InvalidArgumentError(`Stream ${stream} is used by two repositories in one unit of work.`);
      return t;
    };
    return {
      attempt,
      now,
      load: async (repository, id) => {
        const t = await enter(repository as never, id);
        return { state: t.state as never, version: t.loaded.version + t.events.length };
      },
      handle: async (repository, id, command, options = {}) => {
        const aggregate = repository.definition;
        const parsed = aggregate.parseCommand(command);
        if (options === null || typeof options !== 'object') throw new InvalidArgumentError('handle options must be an object.');
        const { expectedVersion, metadata } = options;
        if (expectedVersion !== undefined && (typeof expectedVersion !== 'number' || !Number.isSafeInteger(expectedVersion) || expectedVersion < 0)) {
          throw new InvalidArgumentError('expectedVersion must be an integer >= 0.');
        }
        const t = await enter(repository as never, id);
        if (expectedVersion !== undefined) {
          if (t.loaded.version !== expectedVersion) throw new WrongExpectedVersionError(t.stream, expectedVersion, t.loaded.version);
          t.expected = expectedVersion;
        }
        const events = aggregate.decide(parsed, t.state as never, { id, now });
        for (const e of events) {
          t.state = aggregate.evolve(t.state as never, e);
          t.events.push(e as Message<SchemaMap>);
          t.metadata.push({ ...metadata, commandType: parsed.type });
        }
        return events;
      },
      savepoint: () => {
        const marks = new Map([...touched].map(([stream, t]) => [stream, { n: t.events.length, state: t.state, expected: t.expected }]));
        return () => {
          for (const [stream, t] of touched) {
            const m = marks.get(stream);
            if (m === undefined) {
              t.events.length = 0;
              t.metadata.length = 0;
              t.state = t.loaded.state;
              t.expected = undefined;
            } else {
              t.events.length = m.n;
              t.metadata.length = m.n;
              t.state = m.state;
              t.expected = m.expected;
            }
          }
        };
      },
    };
  }

  private async priorResult(commandId: string, retries: number): Promise<UnitOfWorkResult | undefined> {
    const rec = (await this.records.get(commandId)) as UowRecord | undefined;
    if (rec === undefined || rec === null) return undefined;
    return this.resultOf(rec, retries, await this.reread(rec));
  }

  private async reread(rec: UowRecord): Promise<RecordedEvent[][]> {
    const out: RecordedEvent[][] = [];
    for (const p of rec.parts) {
      const events: RecordedEvent[] = [];
      for await (const e of this.log.readStream(p.stream, { from: p.firstVersion, limit: p.version - p.firstVersion + 1, ifTruncated: 'skip' })) events.push(e);
      out.push(events);
    }
    return out;
  }

  private resultOf(rec: UowRecord, retries: number, events: RecordedEvent[][]): UnitOfWorkResult {
    return { position: rec.position, streams: rec.parts.map((p, i) => ({ stream: p.stream, aggregate: p.aggregate, version: p.version, events: events[i]! })), idempotent: true, retries };
  }

  /** Releases the log's unit-of-work hook when the last unit of work on it closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    releaseHook(this.log);
  }
}
