/**
 * Extension points of the event log. The log takes these through its constructor options; the
 * tsyringe composition root (see `container.ts`) is one way to assemble them, not a requirement.
 *
 * @module
 */
import type { AbstractSublevel } from 'abstract-level';
import type { EventInput, RecordedEvent } from './types.js';

/** What an append interceptor knows about the append it sees. */
export interface AppendContext {
  /** Target stream. */
  readonly stream: string;
}

/**
 * Runs before an append is validated and encoded: may validate (throw a `StrandError` to reject
 * the whole append, nothing is written), enrich or transform the events. Must not mutate its input.
 */
export interface AppendInterceptor {
  /** Name used in logs and errors. */
  readonly name: string;
  /** Returns the events to append (the same array if unchanged). */
  onAppend(events: readonly EventInput[], context: AppendContext): readonly EventInput[] | Promise<readonly EventInput[]>;
}

/**
 * Runs on every event read (reads, catch-up and live subscriptions): may transform (upcast,
 * decrypt, redact) or filter (return `undefined`) it. Synchronous to keep reads fast; must not
 * mutate its input.
 */
export interface ReadInterceptor {
  /** Name used in logs and errors. */
  readonly name: string;
  /** Returns the event to deliver, or `undefined` to hide it. */
  onRead(event: RecordedEvent): RecordedEvent | undefined;
}

/**
 * Work done on a log by the layers above it, reported through {@link EventLog.recordWork}:
 * snapshots written (count and bytes) and events a projection committed.
 */
export type WorkKind = 'snapshotsWritten' | 'snapshotBytes' | 'projectionEvents';

/** Receives {@link WorkKind} counts (tenant metering registers one per tenant log). */
export type WorkMeter = (kind: WorkKind, amount: number) => void;

/** A key-value sublevel of the log's store with string keys, as handed to plugins. */
// biome-ignore lint/suspicious/noExplicitAny: abstract-level's sublevel generics are the caller's choice.
export type Sublevel = AbstractSublevel<any, any, string, any>;

/**
 * Writes of a commit hook, applied atomically with the events of the append that caused them.
 * Reads see the writes of earlier appends of the same group commit.
 */
export interface CommitTx {
  /** Reads a value, seeing this commit group's pending writes. */
  get(db: Sublevel, key: string): Promise<unknown>;
  /** Writes a value in the same atomic batch as the events. */
  put(db: Sublevel, key: string, value: unknown): void;
  /** Deletes a value in the same atomic batch as the events. */
  del(db: Sublevel, key: string): void;
}

/**
 * Runs inside the commit of every append, after versions and positions are assigned and before
 * the batch is written: its writes commit atomically with the events (inline projections).
 * Throwing fails that append only; nothing of it is written.
 */
export interface CommitHook {
  /** Name used in logs and errors. */
  readonly name: string;
  /** Called with the events of one append (already passed through read interceptors). */
  onCommit(events: readonly RecordedEvent[], tx: CommitTx): void | Promise<void>;
}

/** Structured logger (pino-compatible subset). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Levels of {@link createConsoleLogger}, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * A pino-compatible logger on `console` (stderr for every level): `level` and above are written
 * as `strand <level>: <msg> <fields as JSON>`. Errors in `err` are shown with their message.
 * Strand's default logger is `createConsoleLogger({ level: 'warn' })`, so failures that do not
 * fail a call (a snapshot or archive hook that failed, a truncation that did not happen, a parked
 * projection stream) are never silent; pass `silentLogger` or your pino instance to change that.
 */
export function createConsoleLogger(options: { level?: LogLevel } = {}): Logger {
  const min = LEVELS.indexOf(options.level ?? 'warn');
  const write = (level: LogLevel) => (obj: object, msg?: string) => {
    if (LEVELS.indexOf(level) < min) return;
    let fields: string;
    try {
      fields = JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : typeof v === 'bigint' ? String(v) : v));
    } catch {
      fields = '{}';
    }
    console.error(`strand ${level}: ${msg ?? ''} ${fields}`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** The default logger: warnings and errors on the console (see {@link createConsoleLogger}). */
export const consoleLogger: Logger = createConsoleLogger({ level: 'warn' });
