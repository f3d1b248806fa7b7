/**
 * The public face of an asynchronous projection: start and stop it, read its model, watch its
 * lag, wait for a position (read-your-writes), handle parked streams, rebuild it blue/green.
 *
 * @module
 */
import { consoleLogger, type EventStore, InvalidArgumentError, type Logger, type RecordedEvent, type Sublevel } from '@strand/core';
import { filter, firstValueFrom, type Observable, Subject, takeUntil } from 'rxjs';
import { putCatalogEntry } from './catalog.js';
import { Engine, type EngineOptions, type ParkedStream } from './engine.js';
import { ProjectionParkedError, ProjectionStoppedError, ProjectionTimeoutError } from './errors.js';
import type { CompiledProjection } from './projection.js';
import type { ReadModelView } from './read-model.js';

/** Options of a {@link ProjectionRunner}. */
export interface RunnerOptions extends Partial<Omit<EngineOptions, 'logger' | 'clock'>> {
  /** Structured logger. */
  logger?: Logger;
  /** Clock (ms). */
  clock?: () => number;
}

/** Where a projection stands. */
export interface ProjectionStatus {
  /** Projection name. */
  name: string;
  /** Generation serving reads (a rebuild creates the next one). */
  generation: number;
  /** Every event up to here is applied and committed. */
  position: number;
  /** The log's head. */
  head: number;
  /** Events behind the head. */
  lagEvents: number;
  /** Age in ms of the oldest event not yet applied (0 when caught up). */
  lagMs: number;
  /** Parked streams. */
  parked: ParkedStream[];
  /** A rebuild in progress: its position. */
  rebuilding: { generation: number; position: number } | undefined;
}

/** Progress of a rebuild. */
export interface RebuildProgress {
  /** Position the new generation has reached. */
  position: number;
  /** The log's head. */
  head: number;
}

/**
 * Runs a projection asynchronously on a log: catch-up from its checkpoint, then live.
 *
 * @example
 * ```ts
 * const runner = new ProjectionRunner(log, balances);
 * await runner.start();
 * const r = await log.append('accounts/eu/1', [{ type: 'Credited', data: { amount: 5 } }]);
 * await runner.waitFor(r.position);              // read-your-writes
 * await runner.view().get('byAccount', 'accounts/eu/1');
 * ```
 */
export class ProjectionRunner {
  private engine: Engine;
  private shadow: Engine | undefined;
  private readonly meta: Sublevel;
  private readonly engineOptions: EngineOptions;
  private readonly stopped$ = new Subject<void>();
  private readonly processedSubject = new Subject<RecordedEvent>();
  private started = false;
  private everStarted = false;

  /** Events applied and committed, for users to compose with their own RxJS operators. */
  readonly processed$: Observable<RecordedEvent> = this.processedSubject.asObservable();

  constructor(
    private readonly log: EventStore,
    readonly projection: CompiledProjection,
    options: RunnerOptions = {},
  ) {
    if (log === null || typeof log !== 'object' || typeof log.follow !== 'function') throw new InvalidArgumentError('ProjectionRunner needs an open EventStore (an EventLog, or a client from @strand/client).');
    if (projection === null || typeof projection !== 'object' || typeof projection.matches !== 'function') {
      throw new InvalidArgumentError('ProjectionRunner needs a projection made with defineProjection().');
    }
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('Runner options must be an object.');
    for (const k of ['concurrency', 'batchSize', 'attempts', 'maxInFlight'] as const) {
      const v = options[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) throw new InvalidArgumentError(`${k} must be an integer >= 1.`);
    }
    const archive = (options as { archive?: unknown }).archive;
    if (archive !== undefined && (archive === null || typeof archive !== 'object' || typeof (archive as { read?: unknown }).read !== 'function')) {
      throw new InvalidArgumentError('archive must be an ArchiveReader: an object with read(stream, { from }) (e.g. s3Archive(...) from @strand/store-s3).');
    }
    this.engineOptions = {
      concurrency: options.concurrency ?? 16,
      batchSize: options.batchSize ?? 1000,
      attempts: options.attempts ?? 3,
      backoffMs: options.backoffMs ?? 20,
      maxInFlight: options.maxInFlight ?? 10_000,
      logger: options.logger ?? consoleLogger,
      clock: options.clock ?? Date.now,
      archive: options.archive,
    };
    this.meta = log.sublevel(`proj-${projection.name}`);
    this.engine = new Engine(log, projection, 0, this.engineOptions);
  }

  /** Name of the projection. */
  get name(): string {
    return this.projection.name;
  }

  /** Committed position of the serving generation. */
  get position(): number {
    return this.engine.position;
  }

  /** Starts (or resumes after a restart) from the committed checkpoint. */
  async start(): Promise<void> {
    if (this.started) return;
    const saved = (await this.meta.get('generation')) as number | undefined;
    if (saved !== undefined && saved !== this.engine.generation) this.engine = new Engine(this.log, this.projection, saved, this.engineOptions);
    this.wire(this.engine);
    await this.engine.start();
    // Listed for tools (`strand projections`): name, patterns, serving generation.
    await putCatalogEntry(this.log, { name: this.name, patterns: this.projection.patterns, generation: this.engine.generation, startedAt: this.engineOptions.clock() });
    this.started = true;
    this.everStarted = true;
  }

  private wire(engine: Engine): void {
    engine.processed$.pipe(takeUntil(this.stopped$)).subscribe((e) => {
      if (engine === this.engine) this.processedSubject.next(e);
    });
  }

  /** Stops; committed progress is kept. Waiters get `STRAND_PROJECTION_STOPPED`. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.shadow?.stop();
    await this.engine.stop();
    this.stopped$.next();
  }

  /** Read access to the serving read model (the old one stays served during a rebuild). */
  view(): ReadModelView {
    return {
      get: (collection, key) => this.engine.collections.view().get(collection, key),
      list: (collection, options) => this.engine.collections.view().list(collection, options),
      query: (index, value, options) => this.engine.collections.view().query(index, value, options),
    };
  }

  /**
   * Resolves once every event up to `position` is applied and committed (read-your-writes).
   * Rejects with `STRAND_PROJECTION_TIMEOUT` after `timeoutMs` (default 5,000), or with
   * `STRAND_PROJECTION_PARKED` if `stream` is given and that stream is parked.
   */
  async waitFor(position: number, options: { timeoutMs?: number; stream?: string } = {}): Promise<void> {
    if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) throw new InvalidArgumentError('position must be an integer >= 0.');
    const timeoutMs = options.timeoutMs ?? 5000;
    if (typeof timeoutMs !== 'number' || !Number.isSafeInteger(timeoutMs) || timeoutMs < 0) throw new InvalidArgumentError('timeoutMs must be an integer >= 0.');
    const check = () => {
      const p = options.stream === undefined ? undefined : this.engine.parkedStreams.find((s) => s.stream === options.stream);
      if (p !== undefined && p.position <= position) throw new ProjectionParkedError(this.name, p.stream, p.error);
      return this.engine.position >= position;
    };
    if (check()) return;
    if (this.engine.error !== undefined) throw new ProjectionStoppedError(this.name, 'failed', this.engine.error);
    if (!this.started) throw new ProjectionStoppedError(this.name, this.everStarted ? 'stopped' : 'not-started');
    await new Promise<void>((resolve, reject) => {
      const finish = (error?: unknown) => {
        clearTimeout(timeout);
        progress.unsubscribe();
        stopped.unsubscribe();
        if (error === undefined) resolve();
        else reject(error);
      };
      const timeout = setTimeout(
        () => finish(new ProjectionTimeoutError(position, timeoutMs, [{ name: this.name, position: this.engine.position, parked: this.engine.parkedStreams.length }])),
        timeoutMs,
      );
      const progress = this.engine.checkpoint$.subscribe({
        next: () => {
          try {
            if (check()) finish();
          } catch (error) {
            finish(error);
          }
        },
        error: (error: unknown) => finish(new ProjectionStoppedError(this.name, 'failed', error)),
      });
      const stopped = this.stopped$.subscribe(() => finish(new ProjectionStoppedError(this.name)));
    });
  }

  /** Where the projection stands, including lag in events and time. */
  async status(): Promise<ProjectionStatus> {
    const position = this.engine.position;
    const head = await this.log.headPosition();
    let lagMs = 0;
    if (head > position) {
      for await (const e of this.log.readAll({ from: position + 1, limit: 1 })) lagMs = Math.max(0, this.engineOptions.clock() - e.timestamp);
    }
    return {
      name: this.name,
      generation: this.engine.generation,
      position,
      head,
      lagEvents: head - position,
      lagMs,
      parked: this.engine.parkedStreams,
      rebuilding: this.shadow ? { generation: this.shadow.generation, position: this.shadow.position } : undefined,
    };
  }

  /** Parked streams with their errors. */
  parked(): ParkedStream[] {
    return this.engine.parkedStreams;
  }

  /** Re-applies a parked stream from the failed event. Resolves true if it is no longer parked. */
  retry(stream: string): Promise<boolean> {
    return this.engine.resume(stream, 'retry');
  }

  /** Skips the failed event of a parked stream and applies the rest. Resolves true if it is no longer parked. */
  skip(stream: string): Promise<boolean> {
    return this.engine.resume(stream, 'skip');
  }

  /**
   * Rebuilds the read model from the start of the log into a new generation while the current one
   * keeps serving reads; swaps once the new one has caught up with the serving one, then deletes
   * the old generation. Reports progress along the way.
   */
  async rebuild(onProgress: (p: RebuildProgress) => void = () => {}): Promise<void> {
    if (!this.started) throw new ProjectionStoppedError(this.name, this.everStarted ? 'stopped' : 'not-started');
    if (this.shadow) throw new InvalidArgumentError(`Projection ${this.name} is already rebuilding.`);
    const shadow = new Engine(this.log, this.projection, this.engine.generation + 1, this.engineOptions);
    this.shadow = shadow;
    await shadow.destroy();
    await shadow.start();
    // The head as last read (a remote store tells it asynchronously); refreshed at each checkpoint.
    let head = await this.log.headPosition();
    const sub = shadow.checkpoint$.subscribe((position) => {
      onProgress({ position, head });
      this.log.headPosition().then(
        (h) => {
          head = Math.max(head, h);
        },
        () => undefined,
      );
    });
    try {
      const caughtUp = (p: number) => p >= this.engine.position && p >= head;
      if (!caughtUp(shadow.position)) await firstValueFrom(shadow.checkpoint$.pipe(filter(caughtUp)), { defaultValue: undefined });
      if (shadow.error) throw shadow.error;
      // Swap: the new generation serves from now on; the old one stops and is deleted.
      await this.meta.put('generation', shadow.generation);
      await putCatalogEntry(this.log, { name: this.name, patterns: this.projection.patterns, generation: shadow.generation, startedAt: this.engineOptions.clock() });
      const old = this.engine;
      this.engine = shadow;
      this.wire(shadow);
      this.shadow = undefined;
      await old.stop();
      await old.destroy();
    } finally {
      sub.unsubscribe();
      if (this.shadow === shadow) {
        this.shadow = undefined;
        await shadow.stop();
      }
    }
  }
}
