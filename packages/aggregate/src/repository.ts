/**
 * The command path: load (latest valid snapshot + the events after it), decide, append with the
 * expected version, retry on conflict; then, off the command path, snapshots and retention.
 *
 * @module
 */
import {
  type AppendResult,
  consoleLogger,
  type EventStore,
  InvalidArgumentError,
  isStrandError,
  type Logger,
  WrongExpectedVersionError,
  type RecordedEvent,
} from '@strand/core';
import type { z } from 'zod';
import { CommandIdIndex, commandHash, DEFAULT_COMMAND_ID_RETENTION_MS, DuplicateCommand } from './command-ids.js';
import { type Aggregate, type CommandsOf, type EventsOf, foldRecorded, type StateSchemaOf, type Message, type SchemaMap } from './define.js';
import { CommandIdReusedError, ConcurrencyRetriesExhaustedError, StateUnrecoverableError } from './errors.js';
import { type Backoff, backOff, resolveBackoff } from './retry.js';
import { StateCache } from './state-cache.js';
import { assertPolicies, type RetentionPolicy, type SnapshotPolicy, type SnapshotRecord, SnapshotStore } from './snapshots.js';
import { Snapshotter } from './snapshotting.js';

/** The repository type of an aggregate: `RepositoryOf<typeof Account>`. */
export type RepositoryOf<A> = AggregateRepository<CommandsOf<A>, EventsOf<A>, StateSchemaOf<A>>;

/** Options of {@link AggregateRepository}. */
export interface RepositoryOptions {
  /** When to write snapshots. Default: only on demand ({@link AggregateRepository.snapshot}). */
  snapshots?: SnapshotPolicy;
  /** What to do with history older than the latest snapshot. Default `{ mode: 'keep-all' }`. */
  retention?: RetentionPolicy;
  /** Conflict retries before giving up (default 8). */
  maxRetries?: number;
  /** First backoff in ms (default 2); doubles per attempt, jittered, capped at 200 ms. */
  backoffMs?: number;
  /** Clock for `decide`'s context (default `Date.now`). */
  clock?: () => number;
  /** Randomness for backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Structured logger (pino-compatible). Default: warnings and errors to the console ({@link consoleLogger}). */
  logger?: Logger;
  /**
   * Folded states kept in memory (LRU), each valid for the stream version it was folded to: a
   * command on a hot aggregate then loads nothing but the stream's head. Default 1,000; 0 turns
   * the cache off. States are shared between loads, so `evolve` must return a new state rather
   * than change the one it is given (as every decider does).
   */
  stateCacheSize?: number;
  /**
   * How long a command id's result is remembered, in ms (default 7 days). A command re-sent within
   * this window returns its original result; after it the record is pruned (keeping the index
   * bounded) and a re-send is refused with `STRAND_COMMAND_ID_REUSED` (the log still knows the
   * command's event ids), never applied twice.
   */
  commandIdRetentionMs?: number;
}

/** Options of one command. */
export interface HandleOptions {
  /**
   * Makes the command idempotent: a command id already handled for this aggregate returns the
   * original result (`idempotent: true`) and writes nothing, however often it is re-sent.
   */
  commandId?: string;
  /** Metadata added to every event (correlation id, user...). */
  metadata?: Record<string, unknown>;
  /**
   * If-Match-style concurrency from a client that decided on a version it saw: the command runs
   * only if the aggregate is still at this version; otherwise it throws
   * `STRAND_WRONG_EXPECTED_VERSION` at once (no retry: the client's view is stale) and writes
   * nothing. A re-sent `commandId` still returns its original result.
   */
  expectedVersion?: number;
  /**
   * Runs after the append is acknowledged and before `handle` resolves, e.g. to wait until read
   * models have processed it (`@strand/projections`' `confirmProjections`). Its failure fails the
   * call, but the events stay committed (the error says so).
   */
  afterCommit?: (result: CommandResult) => Promise<void>;
}

/** Result of a handled command. */
export interface CommandResult {
  /** The aggregate's stream. */
  readonly stream: string;
  /** The stream's version after the command. */
  readonly version: number;
  /** Global position of the last event written (0 when the command decided no events). */
  readonly position: number;
  /** The events written (re-read from the log for an idempotent repeat). */
  readonly events: readonly RecordedEvent[];
  /** True when this command id had already been handled: nothing was written. */
  readonly idempotent: boolean;
  /** Conflicts retried before success. */
  readonly retries: number;
}

/** A loaded aggregate. */
export interface Loaded<S> {
  /** Current state. */
  readonly state: S;
  /** Stream version the state folds up to (0 = no events). */
  readonly version: number;
  /** Version of the snapshot used (0 = none). */
  readonly snapshotVersion: number;
  /** Events replayed on top of the snapshot. */
  readonly replayed: number;
  /**
   * Where the load started: `cache`, the repository's folded state (`stateCacheSize`), with
   * `replayed` events read after it; `snapshot`, the stored snapshot at `snapshotVersion` plus
   * `replayed` events; `events`, a fold of the whole stream (no cached state, no usable snapshot).
   */
  readonly source: LoadSource;
}

/** Where {@link AggregateRepository.load} started from: the cached fold, a snapshot, or the first event. */
export type LoadSource = 'cache' | 'snapshot' | 'events';

/** Counters of the snapshot and retention work (for metrics and tests): what really happened. */
export interface RepositoryStats {
  /** Snapshots written (synced). */
  snapshotsWritten: number;
  /** Snapshots that could not be written (state schema, storage). */
  snapshotsFailed: number;
  /** Stored snapshots ignored on load (older state version, schema mismatch). */
  snapshotsIgnored: number;
  /** Events removed by retention. */
  eventsTruncated: number;
  /** Events handed to the retention's archive hook (and acknowledged by it). */
  eventsArchived: number;
  /** Truncations that did not happen because the archive hook failed (the snapshot was written). */
  truncationsFailed: number;
  /** Command ids forgotten after `commandIdRetentionMs`. */
  commandIdsPruned: number;
}

/** What the unit of work needs from a repository beyond its public API (not exported from the package). */
export interface RepositoryInternals {
  /** Snapshot policy after a commit (never fails the command). */
  afterAppend(stream: string, loaded: Loaded<unknown>, events: readonly Message<SchemaMap>[], appended: AppendResult): void;
  /** The original result of a command id on a stream, if it was handled. */
  priorResult(stream: string, commandId: string, retries: number): Promise<CommandResult | undefined>;
}

/** Key of {@link RepositoryInternals} on a repository. */
export const internals = Symbol('strand.aggregate.repository.internals');

/**
 * Loads, decides and appends for one aggregate type on one log.
 *
 * @example
 * ```ts
 * const accounts = new AggregateRepository(log, Account, { snapshots: { every: 100 }, retention: { mode: 'truncate' } });
 * await accounts.handle('acme/acct-7', { type: 'Deposit', data: { amount: 5 } }, { commandId: 'cmd-1' });
 * ```
 */
export class AggregateRepository<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType> {
  private readonly snapshots: SnapshotStore;
  private readonly snapshotter: Snapshotter<S>;
  private readonly commandIds: CommandIdIndex;
  private readonly options: Required<Omit<RepositoryOptions, 'snapshots' | 'retention'>> & Pick<RepositoryOptions, 'snapshots'> & { retention: RetentionPolicy };
  /** Folded state per stream at a version (docs/design/0010-cpu-per-event.md, "Aggregates"). */
  private readonly states: StateCache<z.output<S>>;
  private readonly backoff: Backoff;
  private background: Promise<void> = Promise.resolve();
  /** Snapshot and retention counters. */
  readonly stats: RepositoryStats = { snapshotsWritten: 0, snapshotsFailed: 0, snapshotsIgnored: 0, eventsTruncated: 0, eventsArchived: 0, truncationsFailed: 0, commandIdsPruned: 0 };

  constructor(
    private readonly log: EventStore,
    private readonly aggregate: Aggregate<C, E, S>,
    options: RepositoryOptions = {},
  ) {
    if (log === null || typeof log !== 'object' || typeof log.append !== 'function') throw new InvalidArgumentError('AggregateRepository needs an open EventStore (an EventLog, or a client from @strand/client).');
    if (aggregate === null || typeof aggregate !== 'object' || typeof aggregate.decide !== 'function') {
      throw new InvalidArgumentError('AggregateRepository needs an aggregate made with defineAggregate().');
    }
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('Repository options must be an object.');
    assertPolicies(options.snapshots, options.retention);
    for (const k of ['maxRetries', 'backoffMs', 'stateCacheSize', 'commandIdRetentionMs'] as const) {
      const v = options[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new InvalidArgumentError(`${k} must be an integer >= 0.`);
    }
    this.options = {
      maxRetries: options.maxRetries ?? 8,
      backoffMs: options.backoffMs ?? 2,
      clock: options.clock ?? Date.now,
      random: options.random ?? Math.random,
      logger: options.logger ?? consoleLogger,
      commandIdRetentionMs: options.commandIdRetentionMs ?? DEFAULT_COMMAND_ID_RETENTION_MS,
      snapshots: options.snapshots,
      retention: options.retention ?? { mode: 'keep-all' },
      stateCacheSize: options.stateCacheSize ?? 1000,
    };
    this.backoff = resolveBackoff({ backoffMs: this.options.backoffMs, random: this.options.random }, { backoffMs: 2, maxBackoffMs: 200 });
    this.states = new StateCache(this.options.stateCacheSize);
    this.snapshots = new SnapshotStore(log);
    const { clock, logger, retention } = this.options;
    this.snapshotter = new Snapshotter({ log, snapshots: this.snapshots, aggregate, retention, clock, logger, stats: this.stats, background: (task) => this.runInBackground(task) });
    this.commandIds = new CommandIdIndex(log, aggregate.name, this.options.clock, this.options.commandIdRetentionMs);
  }

  /** Package-internal hooks for the unit of work. */
  get [internals](): RepositoryInternals {
    return {
      afterAppend: (stream, loaded, events, appended) => this.afterAppend(stream, loaded as Loaded<z.output<S>>, events as Message<E>[], appended),
      priorResult: (stream, commandId, retries) => this.priorResult(stream, commandId, retries),
    };
  }

  /** The store this repository writes to (an EventLog, or a remote client). */
  get eventLog(): EventStore {
    return this.log;
  }

  /** The aggregate this repository handles. */
  get definition(): Aggregate<C, E, S> {
    return this.aggregate;
  }

  /**
   * Loads an aggregate: the latest valid snapshot plus the events after it (never more). Throws
   * `STRAND_STATE_UNRECOVERABLE` when no snapshot is usable and history was truncated.
   */
  async load(id: string): Promise<Loaded<z.output<S>>> {
    const stream = this.aggregate.streamOf(id);
    const info = await this.log.streamInfo(stream);
    const floor = info?.truncatedBefore ?? 1;
    // A cached fold is valid for its version: at the head it is the state; below it, only the
    // events after it are read (if they are still there). A stream that went back below it
    // (deleted, recreated) drops it.
    const cached = info === undefined || info.deleted ? undefined : this.states.get(stream);
    if (cached !== undefined && (cached.version > info!.version || cached.version + 1 < floor)) this.states.delete(stream);
    const fromCache = cached !== undefined && cached.version <= info!.version && cached.version + 1 >= floor;
    const snap = fromCache || info === undefined ? undefined : await this.snapshotter.usable(stream, info.version);
    let state = fromCache ? cached.state : (snap?.state ?? this.aggregate.definition.initialState());
    let version = fromCache ? cached.version : (snap?.version ?? 0);
    const source: LoadSource = fromCache ? 'cache' : snap ? 'snapshot' : 'events';
    if (fromCache && version === info!.version) return { state, version, snapshotVersion: 0, replayed: 0, source };
    if (version + 1 < floor) {
      throw new StateUnrecoverableError(stream, floor, snap ? `its snapshot (version ${snap.version}) is older than the truncation` : 'it has no usable snapshot');
    }
    let replayed = 0;
    for await (const e of this.log.readStream(stream, { from: version + 1 })) {
      state = foldRecorded(this.aggregate, state, e);
      version = e.version;
      replayed++;
    }
    const policy = this.options.snapshots;
    if (policy?.whenReplayOver !== undefined && replayed > policy.whenReplayOver) this.snapshotter.schedule(stream, state, version);
    if (version > 0) this.states.set(stream, state, version);
    return { state, version, snapshotVersion: snap?.version ?? 0, replayed, source };
  }

  /**
   * Handles a command: load, decide, append with the expected version; on a version conflict,
   * reload and decide again, with a bounded, jittered backoff. Domain errors from `decide` are
   * thrown as they are; nothing is written then.
   */
  async handle(id: string, command: Message<C>, options: HandleOptions = {}): Promise<CommandResult> {
    const stream = this.aggregate.streamOf(id);
    const parsed = this.aggregate.parseCommand(command);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('handle options must be an object.');
    const { commandId, metadata, afterCommit, expectedVersion } = options;
    if (expectedVersion !== undefined && (typeof expectedVersion !== 'number' || !Number.isSafeInteger(expectedVersion) || expectedVersion < 0)) {
      throw new InvalidArgumentError('expectedVersion must be an integer >= 0 (0: the aggregate has no events yet).');
    }
    if (commandId !== undefined && (typeof commandId !== 'string' || commandId.length === 0 || commandId.length > 100)) {
      throw new InvalidArgumentError('commandId must be a string of 1 to 100 characters.');
    }
    if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) throw new InvalidArgumentError('metadata must be an object.');
    if (afterCommit !== undefined && typeof afterCommit !== 'function') throw new InvalidArgumentError('afterCommit must be a function.');

    const hash = commandId === undefined ? undefined : commandHash(parsed.type, parsed.data);
    if (commandId !== undefined) {
      const prior = await this.priorResult(stream, commandId, 0, hash!, parsed.type);
      if (prior) return prior;
    }
    for (let attempt = 0; attempt <= this.options.maxRetries; attempt++) {
      const loaded = await this.load(id);
      if (expectedVersion !== undefined && loaded.version !== expectedVersion) throw new WrongExpectedVersionError(stream, expectedVersion, loaded.version);
      const events = this.aggregate.decide(parsed, loaded.state, { id, now: this.options.clock() });
      if (events.length === 0) return { stream, version: loaded.version, position: 0, events: [], idempotent: false, retries: attempt };
      let appended: AppendResult;
      try {
        appended = await this.log.append(
          stream,
          events.map((e, i) => ({
            type: e.type,
            data: e.data,
            ...(commandId === undefined ? {} : { id: `${commandId}:${i}` }),
            metadata: { ...metadata, aggregate: this.aggregate.name, commandType: parsed.type, ...(commandId === undefined ? {} : { commandId, commandHash: hash }) },
          })),
          { expectedVersion: loaded.version },
        );
      } catch (error) {
        if (error instanceof DuplicateCommand) return (await this.priorResult(stream, commandId!, attempt, hash!, parsed.type))!;
        // The command's event ids are still in the stream but its record was pruned: handled before.
        if (commandId !== undefined && isStrandError(error, 'STRAND_DUPLICATE_EVENT_ID')) throw new CommandIdReusedError(stream, commandId, parsed.type, true);
        if (!isStrandError(error, 'STRAND_WRONG_EXPECTED_VERSION')) throw error;
        if (commandId !== undefined) {
          const prior = await this.priorResult(stream, commandId, attempt, hash!, parsed.type);
          if (prior) return prior;
        }
        if (expectedVersion !== undefined) throw error;
        if (attempt < this.options.maxRetries) await backOff(attempt, this.backoff);
        continue;
      }
      if (commandId !== undefined && !this.commandIds.inBatch && !appended.idempotent) await this.commandIds.recordAppended(stream, commandId, appended, hash!);
      // The log recognises a retry whose event ids already sit at these versions (idempotent append):
      // the command record says whether it was this command or another one under the same id.
      if (appended.idempotent && commandId !== undefined) {
        const prior = await this.priorResult(stream, commandId, attempt, hash!, parsed.type);
        if (prior) return prior;
      }
      if (commandId !== undefined) this.maybePrune();
      const result: CommandResult = { stream, version: appended.version, position: appended.position, events: appended.events, idempotent: appended.idempotent, retries: attempt };
      if (!appended.idempotent) this.afterAppend(stream, loaded, events, appended);
      if (afterCommit) await afterCommit(result);
      return result;
    }
    throw new ConcurrencyRetriesExhaustedError(stream, this.options.maxRetries + 1);
  }

  private async priorResult(stream: string, commandId: string, retries: number, hash?: string, commandType = 'command'): Promise<CommandResult | undefined> {
    const rec = await this.commandIds.get(stream, commandId);
    if (rec === undefined) return undefined;
    if (hash !== undefined && rec.hash !== undefined && rec.hash !== hash) throw new CommandIdReusedError(stream, commandId, commandType);
    const events: RecordedEvent[] = [];
    for await (const e of this.log.readStream(stream, { from: rec.firstVersion, limit: rec.version - rec.firstVersion + 1, ifTruncated: 'skip' })) events.push(e);
    return { stream, version: rec.version, position: rec.position, events, idempotent: true, retries };
  }

  /** The state after an accepted command: the loaded one evolved by the events just written. */
  private cacheAfterAppend(stream: string, loaded: Loaded<z.output<S>>, events: Message<E>[], appended: AppendResult): void {
    if (!this.states.enabled || appended.version !== loaded.version + events.length) return;
    try {
      let state = loaded.state;
      appended.events.forEach((e, i) => {
        state = this.aggregate.evolve(state, events[i]!, { version: e.version, timestamp: e.timestamp });
      });
      this.states.set(stream, state, appended.version);
    } catch {
      // The next load folds from the log and reports the error there.
      this.states.delete(stream);
    }
  }

  /** Prunes expired command ids in the background, at most every tenth of the retention window. */
  private maybePrune(): void {
    if (!this.commandIds.pruneDue()) return;
    this.runInBackground(() =>
      this.pruneCommandIds().then(
        () => {},
        (error: unknown) => this.options.logger.warn({ aggregate: this.aggregate.name, err: error }, 'pruning expired command ids failed; will try again'),
      ),
    );
  }

  /** Queues `task` (which never rejects) after the snapshot and pruning work queued before it. */
  private runInBackground(task: () => Promise<void>): void {
    this.background = this.background.then(task);
  }

  /**
   * Forgets command ids handled more than `commandIdRetentionMs` ago (runs by itself in the
   * background as commands arrive). Returns how many were removed.
   */
  async pruneCommandIds(): Promise<number> {
    const removed = await this.commandIds.prune();
    this.stats.commandIdsPruned += removed;
    return removed;
  }

  /** Off the command path: cache the new state, snapshot when the policy says so. Never fails the command. */
  private afterAppend(stream: string, loaded: Loaded<z.output<S>>, events: Message<E>[], appended: AppendResult): void {
    this.cacheAfterAppend(stream, loaded, events, appended);
    const every = this.options.snapshots?.every;
    if (every === undefined) return;
    if (Math.floor(appended.version / every) === Math.floor(loaded.version / every)) return;
    let state = loaded.state;
    appended.events.forEach((e, i) => {
      state = this.aggregate.evolve(state, events[i]!, { version: e.version, timestamp: e.timestamp });
    });
    this.snapshotter.schedule(stream, state, appended.version);
  }

  /**
   * Writes a snapshot of the aggregate now and applies the retention policy. Returns the snapshot
   * version and how many events were truncated.
   */
  async snapshot(id: string): Promise<{ version: number; truncated: number }> {
    const stream = this.aggregate.streamOf(id);
    const loaded = await this.load(id);
    if (loaded.version === 0) return { version: 0, truncated: 0 };
    return this.snapshotter.write(stream, loaded.state, loaded.version);
  }

  /** Resolves when every scheduled snapshot (and truncation) has finished. */
  async flush(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.background;
      await current;
    } while (current !== this.background);
  }

  /** Stops handling: waits for background work and removes the command-id hook. */
  async close(): Promise<void> {
    await this.flush();
    this.commandIds.removeHook();
  }

  /** The stored snapshot of an aggregate, if any (for tools and tests). */
  async storedSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    return this.snapshots.get(this.aggregate.streamOf(id));
  }
}
