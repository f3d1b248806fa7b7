/**
 * Runs a workflow on a log: follows it from a checkpoint, routes matching events to instances,
 * runs each instance's inputs strictly in order (instances in parallel), and commits every step
 * (the instance's records, its per-instance checkpoint, the commands' events and its deadline
 * changes) in one atomic multi-stream append through a unit of work. Deadlines are durable
 * (indexed in the same batch) and fire once. A failing instance parks itself; the others flow.
 * Design: docs/design/0012-workflows.md.
 *
 * @module
 */
import { AggregateRepository, type Backoff, backOff, resolveBackoff, type RetryOptions, type SchemaMap, type SnapshotPolicy, UnitOfWork } from '@strand/aggregate';
import { type EventLog, InvalidArgumentError, type Logger, type RecordedEvent, type Sublevel, silentLogger, TimeoutError } from '@strand/core';
import type { z } from 'zod';
import { DeadlineIndex, pad } from './deadlines.js';
import type { InputSource, Workflow } from './define.js';
import { type InstanceAggregate, type InstanceState, instanceAggregate } from './instance.js';
import { Progress, type Slot } from './progress.js';
import { type AnyInput, decideStep, type StepOutcome } from './step.js';

/** Any aggregate's repository (the runner routes sends by aggregate name). */
// biome-ignore lint/suspicious/noExplicitAny: repositories of different aggregates are mixed in one list; sends are checked at run time.
export type AnyRepository = AggregateRepository<any, any, any>;

/**
 * Options of a {@link WorkflowRunner}. The retry backoff of a failing step ({@link RetryOptions},
 * as the unit of work's) starts at `backoffMs` 20 and is capped at `maxBackoffMs` 1,000 by
 * default; `random` and `sleep` serve the steps' conflict retries too.
 */
export interface WorkflowRunnerOptions extends RetryOptions {
  /** Repositories of the aggregates the workflow sends commands to (their snapshot policies and hooks apply). */
  repositories: readonly AnyRepository[];
  /** Instances processed at once (default 16). */
  concurrency?: number;
  /** Attempts of a failing step before its instance is parked (default 3). */
  attempts?: number;
  /** Snapshot policy of instance streams (default every 50 records). */
  snapshots?: SnapshotPolicy;
  /** Conflict retries of one step (default 200: steps on hot aggregates must not give up early). */
  maxConflictRetries?: number;
  /** Clock for decisions and deadlines (default `Date.now`). */
  clock?: () => number;
  /** Fire deadlines on timers (default true); false leaves it to {@link WorkflowRunner.fireDue}, for tests with a fake clock. */
  timers?: boolean;
  /** Structured logger. */
  logger?: Logger;
}

/** An instance whose step kept failing: its inputs wait until {@link WorkflowRunner.retry}. */
export interface ParkedInstance {
  /** Instance id. */
  readonly instance: string;
  /** The input that failed. */
  readonly input: { kind: string; type: string; position?: number; at?: number };
  /** The last error's message. */
  readonly error: string;
  /** Attempts made. */
  readonly attempts: number;
  /** When it was parked. */
  readonly parkedAt: number;
}

/** Counters of a runner. */
export interface WorkflowStats {
  /** Steps committed (one atomic append each). */
  steps: number;
  /** Inputs that were already applied (redelivery after a restart) or ignored. */
  skipped: number;
  /** Commands refused by their aggregates and fed back as `CommandRejected`. */
  rejections: number;
  /** Deadlines fired. */
  deadlinesFired: number;
  /** Conflict retries inside steps. */
  conflicts: number;
  /** Events whose data failed the input schema (skipped). */
  invalidInputs: number;
}

/** A workflow instance as stored. */
export interface InstanceView<S> {
  /** The workflow's state. */
  readonly state: S;
  /** Completed. */
  readonly completed: boolean;
  /** Pending deadlines by name. */
  readonly deadlines: Readonly<Record<string, { at: number }>>;
  /** Instance stream version (0: never started). */
  readonly version: number;
  /** Parked, with why. */
  readonly parked: ParkedInstance | undefined;
}

/**
 * Runs one workflow.
 *
 * @example
 * ```ts
 * const runner = new WorkflowRunner(log, Fulfilment, { repositories: [orders, stock] });
 * await runner.start();
 * await orders.handle('o-1', { type: 'Place', data: { sku: 'sku-1', quantity: 1 } });
 * await runner.settle();                       // every step caused so far is committed
 * (await runner.instance('o-1')).state;
 * ```
 */
export class WorkflowRunner<I extends SchemaMap, D extends SchemaMap, S extends z.ZodType> {
  private readonly instances: AggregateRepository<SchemaMap, SchemaMap, z.ZodType>;
  private readonly instanceDef: InstanceAggregate<S>;
  private readonly repositories = new Map<string, AggregateRepository<SchemaMap, SchemaMap, z.ZodType>>();
  private readonly uow: UnitOfWork;
  private readonly meta: Sublevel;
  private readonly deadlines: DeadlineIndex;
  private readonly options: Required<Omit<WorkflowRunnerOptions, 'repositories' | 'snapshots' | keyof RetryOptions>>;
  private readonly backoff: Backoff;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly parkedMap = new Map<string, ParkedInstance>();
  private readonly firing = new Set<string>();
  private readonly progress = new Progress();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private saveScheduled = false;
  private saving: Promise<void> = Promise.resolve();
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private failure: unknown;
  /** Counters. */
  readonly stats: WorkflowStats = { steps: 0, skipped: 0, rejections: 0, deadlinesFired: 0, conflicts: 0, invalidInputs: 0 };

  constructor(
    private readonly log: EventLog,
    readonly workflow: Workflow<I, D, S>,
    options: WorkflowRunnerOptions,
  ) {
    if (log === null || typeof log !== 'object' || typeof log.follow !== 'function') throw new InvalidArgumentError('WorkflowRunner needs an open EventLog.');
    if (workflow === null || typeof workflow !== 'object' || typeof workflow.route !== 'function') throw new InvalidArgumentError('WorkflowRunner needs a workflow made with defineWorkflow().');
    if (options === null || typeof options !== 'object' || !Array.isArray(options.repositories)) throw new InvalidArgumentError('WorkflowRunner options need repositories: [...].');
    for (const k of ['concurrency', 'attempts'] as const) {
      const v = options[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) throw new InvalidArgumentError(`${k} must be an integer >= 1.`);
    }
    const v = options.maxConflictRetries;
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new InvalidArgumentError('maxConflictRetries must be an integer >= 0.');
    this.backoff = resolveBackoff(options, { backoffMs: 20, maxBackoffMs: 1000 });
    for (const r of options.repositories) {
      if (!(r instanceof AggregateRepository)) throw new InvalidArgumentError('repositories must be AggregateRepository instances.');
      if (r.eventLog !== log) throw new InvalidArgumentError(`The repository of ${r.definition.name} works on another log.`);
      this.repositories.set(r.definition.name, r);
    }
    this.options = {
      concurrency: options.concurrency ?? 16,
      attempts: options.attempts ?? 3,
      maxConflictRetries: options.maxConflictRetries ?? 200,
      clock: options.clock ?? Date.now,
      timers: options.timers ?? true,
      logger: options.logger ?? silentLogger,
    };
    this.instanceDef = instanceAggregate(workflow);
    this.instances = new AggregateRepository(log, this.instanceDef as never, { snapshots: options.snapshots ?? { every: 50 }, clock: this.options.clock, logger: this.options.logger });
    this.uow = new UnitOfWork(log, {
      maxRetries: this.options.maxConflictRetries,
      backoffMs: 1,
      maxBackoffMs: 25,
      clock: this.options.clock,
      random: this.backoff.random,
      sleep: async (ms) => {
        this.stats.conflicts++;
        await this.backoff.sleep(ms);
      },
    });
    this.meta = log.sublevel(`wf-${workflow.name}`);
    this.deadlines = new DeadlineIndex(log, workflow.name);
  }

  /** Every event up to here has been handled (committed, skipped or held for a parked instance). */
  get position(): number {
    return this.progress.position;
  }

  /** Starts from the saved checkpoint: catch-up, then live; deadlines due meanwhile fire. */
  async start(): Promise<void> {
    if (this.started) return;
    this.progress.position = ((await this.meta.get('checkpoint')) as number | undefined) ?? 0;
    for await (const [, value] of this.meta.iterator({ gte: 'parked:', lt: 'parked;' })) {
      const p = value as ParkedInstance;
      this.parkedMap.set(p.instance, p);
    }
    this.started = true;
    this.failure = undefined;
    this.abort = new AbortController();
    this.loop = this.follow().catch((error: unknown) => {
      this.failure = error;
      this.options.logger.error({ workflow: this.workflow.name, err: error }, 'workflow runner stopped');
      this.progress.wake();
    });
    await this.arm();
  }

  /** Stops: waits for the steps in flight and saves the checkpoint. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.loop;
    await Promise.all([...this.chains.values()]);
    await this.saveNow();
    this.progress.wake();
  }

  /** Stops and releases the log hooks (the runner cannot be started again). */
  async close(): Promise<void> {
    await this.stop();
    await this.instances.close();
    this.uow.close();
    this.deadlines.removeHook();
  }

  private async follow(): Promise<void> {
    for await (const event of this.log.follow('>', { from: this.progress.position + 1, signal: this.abort.signal })) {
      while (this.progress.pending >= 10_000) await this.progress.next();
      const slot = this.progress.add(event.position);
      let routed: { instance: string; data: unknown } | undefined;
      try {
        routed = this.workflow.route(event);
      } catch (error) {
        this.stats.invalidInputs++;
        this.options.logger.warn({ workflow: this.workflow.name, stream: event.stream, version: event.version, err: error }, 'event does not match the workflow input; skipped');
      }
      if (routed === undefined) {
        this.done(slot);
        continue;
      }
      const { instance } = routed;
      if (this.parkedMap.has(instance)) {
        await this.hold(instance, event.position);
        this.done(slot);
        continue;
      }
      const input = { kind: 'event', type: event.type, data: routed.data, source: sourceOf(event) } as AnyInput;
      // The instance may park while this input waits its turn (an earlier input kept failing):
      // then it is held as well, not run out of order.
      this.enqueue(instance, () => (this.parkedMap.has(instance) ? this.hold(instance, event.position) : this.step(instance, input, correlationOf(event))), slot);
    }
  }

  private enqueue(instance: string, task: () => Promise<void>, slot?: Slot): Promise<void> {
    const prev = this.chains.get(instance) ?? Promise.resolve();
    const run = prev.then(async () => {
      await this.acquire();
      try {
        await task();
      } finally {
        this.release();
        if (slot) this.done(slot);
      }
    });
    this.chains.set(instance, run);
    void run.finally(() => {
      if (this.chains.get(instance) === run) this.chains.delete(instance);
    });
    return run;
  }

  private async acquire(): Promise<void> {
    if (this.running < this.options.concurrency) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  /** A slot is handled: once the position moved, a checkpoint save is scheduled. */
  private done(slot: Slot): void {
    if (!this.progress.done(slot) || this.saveScheduled) return;
    this.saveScheduled = true;
    setImmediate(() => {
      this.saveScheduled = false;
      void this.saveNow();
    });
  }

  /** The checkpoint is a resume hint: instance streams say what was applied (docs/design/0012). */
  private saveNow(): Promise<void> {
    const at = this.progress.position;
    this.saving = this.saving
      // Saves are chained and the checkpoint only grows, so a save never moves it backwards.
      .then(() => this.meta.put('checkpoint', at))
      .catch((error: unknown) => this.options.logger.warn({ workflow: this.workflow.name, err: error }, 'checkpoint not saved; it is only a resume hint'));
    return this.saving;
  }

  /** One input of one instance, retried on failure and parked after `attempts`. */
  private async step(instance: string, input: AnyInput, correlationId: string | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.runStep(instance, input, correlationId);
        return;
      } catch (error) {
        if (attempt >= this.options.attempts || !this.started) {
          await this.park(instance, input, error, attempt);
          return;
        }
        await backOff(attempt - 1, this.backoff);
      }
    }
  }

  /** Holds an input of a parked instance, durably before the checkpoint can move past it; retry(instance) replays it. */
  private async hold(instance: string, position: number): Promise<void> {
    await this.meta.put(`held:${instance}\u0000${pad(position)}`, position);
  }

  private async park(instance: string, input: AnyInput, error: unknown, attempts: number): Promise<void> {
    const p: ParkedInstance = {
      instance,
      input: { kind: input.kind, type: input.type, ...(input.kind === 'event' ? { position: input.source.position } : {}), ...(input.kind === 'deadline' ? { at: input.at } : {}) },
      error: String((error as Error)?.message ?? error),
      attempts,
      parkedAt: this.options.clock(),
    };
    this.parkedMap.set(instance, p);
    // The failed input is held like later ones, so retry() replays it first.
    if (input.kind === 'event') await this.hold(instance, input.source.position);
    await this.meta.put(`parked:${instance}`, p, { sync: true } as never);
    this.options.logger.warn({ workflow: this.workflow.name, instance, input: p.input, err: error }, 'workflow instance parked');
  }

  private async runStep(instance: string, input: AnyInput, correlationId: string | undefined): Promise<void> {
    let outcome: StepOutcome | undefined;
    const causationId = input.kind === 'event' ? input.source.id : `${input.kind}:${input.type}`;
    const ctx = { workflow: this.workflow, instances: this.instances, repositories: this.repositories };
    await this.uow.run(
      async (tx) => {
        outcome = await decideStep(tx, ctx, instance, input, correlationId);
      },
      { metadata: { workflow: this.workflow.name, instance, causationId } },
    );
    if (!outcome?.committed) {
      this.stats.skipped++;
      return;
    }
    this.stats.steps++;
    this.stats.rejections += outcome.rejections;
    if (input.kind === 'deadline') this.stats.deadlinesFired++;
    if (outcome.scheduled) await this.arm();
  }

  /**
   * Fires every deadline due at the runner's clock (each through its instance's queue, in order
   * with its other inputs). Timers call this; with `timers: false` (a fake clock), tests do.
   * Resolves when those steps are committed; returns how many were due.
   */
  async fireDue(): Promise<number> {
    const now = this.options.clock();
    const due = await this.deadlines.due(now, (d) => this.firing.has(d.key) || this.parkedMap.has(d.instance));
    const runs = due.map((d) => {
      this.firing.add(d.key);
      const input = { kind: 'deadline', type: d.name, data: d.data, at: d.at } as AnyInput;
      return this.enqueue(d.instance, () => this.step(d.instance, input, undefined)).finally(() => this.firing.delete(d.key));
    });
    await Promise.all(runs);
    await this.arm();
    return due.length;
  }

  private async arm(): Promise<void> {
    if (!this.options.timers || !this.started) return;
    const at = await this.deadlines.first();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (at === undefined || !this.started) return;
    const delay = Math.min(Math.max(0, at - this.options.clock()), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fireDue().catch((error: unknown) => this.options.logger.error({ workflow: this.workflow.name, err: error }, 'firing deadlines failed'));
    }, delay);
    this.timer.unref();
  }

  /** Resolves once every event up to `position` is handled (committed, skipped or held). */
  async waitFor(position: number, timeoutMs = 5000): Promise<void> {
    if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) throw new InvalidArgumentError('position must be an integer >= 0.');
    const deadline = Date.now() + timeoutMs;
    while (this.progress.position < position) {
      if (this.failure !== undefined) throw this.failure;
      if (!this.started) throw new InvalidArgumentError(`Workflow runner ${this.workflow.name} is not running.`);
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`workflow ${this.workflow.name} to reach position ${position} (at ${this.progress.position})`, timeoutMs);
      await this.progress.next(left);
    }
  }

  /**
   * Resolves once the runner has handled the log up to its head and the head stopped moving
   * because of it (steps append events that may trigger more steps).
   */
  async settle(timeoutMs = 10_000): Promise<void> {
    for (;;) {
      const head = this.log.position;
      await this.waitFor(head, timeoutMs);
      await Promise.all([...this.chains.values()]);
      if (this.log.position === head) return;
    }
  }

  /** Parked instances. */
  parked(): ParkedInstance[] {
    return [...this.parkedMap.values()];
  }

  /**
   * Un-parks an instance: replays the failed input and every input held since, in order, then
   * lets new ones flow. Resolves true if it is no longer parked.
   */
  async retry(instance: string): Promise<boolean> {
    if (!this.parkedMap.has(instance)) return false;
    this.parkedMap.delete(instance);
    const replay = async () => {
      const held: Array<{ key: string; position: number }> = [];
      for await (const [key, position] of this.meta.iterator({ gte: `held:${instance}\u0000`, lt: `held:${instance}\u0001` })) held.push({ key: key as string, position: position as number });
      await this.meta.del(`parked:${instance}`, { sync: true } as never);
      for (const h of held) {
        if (this.parkedMap.has(instance)) return;
        for await (const event of this.log.readAll({ from: h.position, limit: 1 })) {
          const routed = this.workflow.route(event);
          if (routed !== undefined) await this.step(instance, { kind: 'event', type: event.type, data: routed.data, source: sourceOf(event) } as AnyInput, correlationOf(event));
        }
        if (!this.parkedMap.has(instance)) await this.meta.del(h.key);
      }
    };
    await this.enqueue(instance, replay);
    if (!this.parkedMap.has(instance)) await this.fireDue();
    return !this.parkedMap.has(instance);
  }

  /** An instance as stored: the workflow's state, completion, pending deadlines, parking. */
  async instance(id: string): Promise<InstanceView<z.output<S>>> {
    const loaded = await this.instances.load(id);
    const inst = loaded.state as InstanceState<z.output<S>>;
    return {
      state: inst.state,
      completed: inst.completed,
      deadlines: Object.fromEntries(Object.entries(inst.pending).map(([k, v]) => [k, { at: v.at }])),
      version: loaded.version,
      parked: this.parkedMap.get(id),
    };
  }

  /** Deadlines not yet fired or cancelled, soonest first (for tools and tests). */
  async pendingDeadlines(): Promise<Array<{ instance: string; name: string; at: number }>> {
    return this.deadlines.pending();
  }
}

function sourceOf(event: RecordedEvent): InputSource {
  return { stream: event.stream, version: event.version, position: event.position, id: event.id };
}

function correlationOf(event: RecordedEvent): string {
  const c = event.metadata?.correlationId;
  return typeof c === 'string' && c.length > 0 ? c : event.id;
}
