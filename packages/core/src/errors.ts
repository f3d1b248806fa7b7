/**
 * Strand's error model: one base class with a stable string `code` (API, never reworded) and a
 * coarse `kind` that tells the caller what to do about it. Messages are for people and may change.
 *
 * @module
 */

/**
 * What a caller should do about an error:
 * - `conflict`: re-read and retry (e.g. a wrong expected version);
 * - `invalid`: fix the input, retrying the same call will fail the same way;
 * - `denied`: the principal lacks a permission;
 * - `limited`: a quota or rate limit was hit, retry later or raise the limit;
 * - `closed`: the resource is closed or fenced, open a new one;
 * - `unavailable`: a transient storage or network failure, retry with backoff;
 * - `data`: stored data is missing, truncated or corrupt, retrying will not help;
 * - `internal`: a bug in Strand, please report it.
 */
export type ErrorKind = 'conflict' | 'invalid' | 'denied' | 'limited' | 'closed' | 'unavailable' | 'data' | 'internal';

/** Options accepted by every {@link StrandError} constructor. */
export interface StrandErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Machine-readable facts about the failure (stream name, versions...). */
  details?: Record<string, unknown>;
}

/**
 * A short, safe rendering of any value for an error message: never throws (cycles, symbols,
 * null-prototype objects) and never floods the message.
 */
export function describeValue(v: unknown): string {
  let s: string;
  try {
    if (typeof v === 'bigint') s = `${v}n`;
    else if (typeof v === 'symbol' || typeof v === 'function') s = `a ${typeof v}`;
    else s = JSON.stringify(v) ?? String(v);
  } catch {
    s = v === null || typeof v !== 'object' ? `a ${typeof v}` : Array.isArray(v) ? 'an array' : 'an object';
  }
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}

/**
 * The brand every {@link StrandError} carries, under a registry-wide symbol: an app that ends up
 * with two copies of `@strand/core` (two versions, or one bundled twice) has two `StrandError`
 * classes, and `instanceof` against one fails for errors made by the other; the brand does not.
 */
const BRAND: unique symbol = Symbol.for('strand.error') as never;

/**
 * Base class of every error Strand throws on purpose. Match on `code` (stable), not on the class
 * name or message. `error instanceof StrandError` and {@link isStrandError} recognise the errors
 * of every copy of `@strand/core` in the process (they check the brand); `instanceof` a subclass
 * checks the prototype chain as usual.
 */
export class StrandError extends Error {
  /** Stable identifier, e.g. `STRAND_WRONG_EXPECTED_VERSION`. Listed in docs/errors.md. */
  readonly code: string;
  /** What the caller should do about it. */
  readonly kind: ErrorKind;
  /** Machine-readable facts about the failure. */
  readonly details: Record<string, unknown>;

  constructor(code: string, kind: ErrorKind, message: string, options: StrandErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.kind = kind;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for errors of any copy of `@strand/core` (on `StrandError` itself; subclasses check the prototype chain). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: the receiver tells StrandError from its subclasses.
    if (this !== StrandError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value);
  }
}

function hasBrand(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/** A stream name failed validation. Code `STRAND_INVALID_STREAM_NAME`. */
export class InvalidStreamNameError extends StrandError {
  constructor(name: unknown, reason: string) {
    super(
      'STRAND_INVALID_STREAM_NAME',
      'invalid',
      `Invalid stream name ${describeValue(name)}: ${reason}. Use '/'-separated segments of letters, digits and - _ . : @ + = ~ (e.g. "orders/eu/order-42").`,
      { details: { name: typeof name === 'string' ? name.slice(0, 1024) : describeValue(name), reason } },
    );
  }
}

/** A subscription pattern failed validation. Code `STRAND_INVALID_PATTERN`. */
export class InvalidPatternError extends StrandError {
  constructor(pattern: unknown, reason: string) {
    super(
      'STRAND_INVALID_PATTERN',
      'invalid',
      `Invalid stream pattern ${describeValue(pattern)}: ${reason}. A pattern is a stream name whose segments may be '*' (exactly one segment) or, last only, '>' (one or more segments), e.g. "orders/*/order-42" or "orders/>".`,
      { details: { pattern: typeof pattern === 'string' ? pattern.slice(0, 1024) : describeValue(pattern), reason } },
    );
  }
}

/** An event (or its envelope) failed validation. Code `STRAND_INVALID_EVENT`. */
export class InvalidEventError extends StrandError {
  constructor(reason: string, details: Record<string, unknown> = {}) {
    super('STRAND_INVALID_EVENT', 'invalid', `Invalid event: ${reason}.`, { details: { reason, ...details } });
  }
}

/** An encoded event is larger than the log's `maxEventBytes`. Code `STRAND_EVENT_TOO_LARGE`. */
export class EventTooLargeError extends StrandError {
  constructor(size: number, limit: number, type: string) {
    super(
      'STRAND_EVENT_TOO_LARGE',
      'invalid',
      `Event of type "${type}" encodes to ${size} bytes, over the limit of ${limit}. Store large blobs elsewhere and append a reference, or raise maxEventBytes when opening the log.`,
      { details: { size, limit, type } },
    );
  }
}

/** An argument other than a stream name, pattern or event is wrong. Code `STRAND_INVALID_ARGUMENT`. */
export class InvalidArgumentError extends StrandError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('STRAND_INVALID_ARGUMENT', 'invalid', message, { details });
  }
}

/** What an append expected the stream's version to be. */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

/**
 * The stream's version did not match the append's expected version; nothing was written.
 * Code `STRAND_WRONG_EXPECTED_VERSION`. Re-read the stream, decide again, and retry.
 */
export class WrongExpectedVersionError extends StrandError {
  /** The stream whose version did not match. */
  readonly stream: string;
  /** What the caller expected. */
  readonly expected: ExpectedVersion;
  /** The stream's actual version (0 when it has no events, -1 when it does not exist). */
  readonly actual: number;

  constructor(stream: string, expected: ExpectedVersion, actual: number) {
    super(
      'STRAND_WRONG_EXPECTED_VERSION',
      'conflict',
      `Append to "${stream}" expected version ${String(expected)} but the stream is at ${actual < 0 ? 'no stream' : actual}; nothing was written. Re-read the stream, decide again and retry.`,
      { details: { stream, expected, actual } },
    );
    this.stream = stream;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * Some event ids of an append were already committed, but not as that same append at that
 * position, so it is neither new nor a retry. Code `STRAND_DUPLICATE_EVENT_ID`.
 */
export class DuplicateEventIdError extends StrandError {
  constructor(stream: string, id: string) {
    super(
      'STRAND_DUPLICATE_EVENT_ID',
      'conflict',
      `Event id ${id} is already committed in "${stream}" at another position; a retry must resend exactly the same events with the same expected version. Use fresh ids for new events.`,
      { details: { stream, id } },
    );
  }
}

/** The stream was soft-deleted. Code `STRAND_STREAM_DELETED`. */
export class StreamDeletedError extends StrandError {
  constructor(stream: string) {
    super(
      'STRAND_STREAM_DELETED',
      'conflict',
      `Stream "${stream}" is deleted. To start it again on purpose, append with { recreate: true }.`,
      { details: { stream } },
    );
  }
}

/** A read asked for events that were truncated away. Code `STRAND_STREAM_TRUNCATED`. */
export class StreamTruncatedError extends StrandError {
  constructor(stream: string, requested: number, truncatedBefore: number) {
    super(
      'STRAND_STREAM_TRUNCATED',
      'data',
      `Events of "${stream}" before version ${truncatedBefore} were truncated; the read from version ${requested} would be incomplete. Read from version ${truncatedBefore} (or load from a snapshot), or pass { ifTruncated: 'skip' } to read what is left.`,
      { details: { stream, requested, truncatedBefore } },
    );
  }
}

/** The log (or store) is closed. Code `STRAND_LOG_CLOSED`. */
export class LogClosedError extends StrandError {
  constructor(what = 'The event log') {
    super('STRAND_LOG_CLOSED', 'closed', `${what} is closed. Open it again with EventLog.open() before using it.`);
  }
}

/**
 * The store is held by another process or another open EventLog (LevelDB lets one process open a
 * directory at a time). Code `STRAND_LOG_LOCKED`, kind `unavailable`: retry once the other holder
 * closes it. `path` is the location that could not be locked; `cause` is the store's error.
 */
export class LogLockedError extends StrandError {
  /** The location that could not be locked (a LevelDB directory). */
  readonly path: string;

  /**
   * @param sameProcess - true when this process holds the directory (an earlier `openLog` on it
   *   that is still open): the message then says so instead of pointing at another process.
   */
  constructor(path: string, cause?: unknown, sameProcess = false) {
    super(
      'STRAND_LOG_LOCKED',
      'unavailable',
      sameProcess
        ? `The log at ${path} is already open in this process (another openLog() on the same directory). Share that one EventLog instance, or close it before opening the directory again.`
        : `The log at ${path} is already open elsewhere (another process or another EventLog in this one). One writer owns a log: close the other one, or share a single EventLog instance.`,
      { cause, details: sameProcess ? { path, sameProcess } : { path } },
    );
    this.path = path;
  }
}

/** A storage operation failed for a reason that may be transient. Code `STRAND_STORAGE_UNAVAILABLE`. */
export class StorageUnavailableError extends StrandError {
  constructor(operation: string, cause: unknown) {
    super(
      'STRAND_STORAGE_UNAVAILABLE',
      'unavailable',
      `Storage failed during ${operation}: ${cause instanceof Error ? cause.message : String(cause)}. Nothing of this operation was committed; retry with backoff.`,
      { cause, details: { operation } },
    );
  }
}

/**
 * A write may or may not have been committed: the store lost contact after the data was sent
 * (a dropped connection, a timeout after the upload) and could not find out which. Code
 * `STRAND_COMMIT_UNKNOWN`, kind `unavailable`. Re-send the same append with the same event ids
 * once the store is reachable again: that is safe (an append whose ids are committed returns its
 * original result with `idempotent: true`), and tells which it was.
 */
export class CommitUnknownError extends StrandError {
  constructor(operation: string, cause?: unknown, details: Record<string, unknown> = {}) {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    super(
      'STRAND_COMMIT_UNKNOWN',
      'unavailable',
      `The outcome of ${operation} is unknown${why}. It may have been committed. Re-send it with the same event ids once the store is reachable (that is safe: a committed one returns idempotent: true).`,
      { cause, details: { operation, ...details } },
    );
  }
}

/** Stored bytes could not be decoded. Code `STRAND_CORRUPTION`. */
export class CorruptionError extends StrandError {
  constructor(what: string, cause?: unknown) {
    super('STRAND_CORRUPTION', 'data', `Stored data is corrupt: ${what}. Run \`strand verify\` and restore from a backup.`, {
      cause,
      details: { what },
    });
  }
}

/** A wait (for a position, a projection...) timed out. Code `STRAND_TIMEOUT`. */
export class TimeoutError extends StrandError {
  constructor(what: string, timeoutMs: number, details: Record<string, unknown> = {}) {
    super('STRAND_TIMEOUT', 'unavailable', `Timed out after ${timeoutMs} ms waiting for ${what}.`, {
      details: { timeoutMs, ...details },
    });
  }
}

/**
 * There is no log where one was expected: an open that must not create one (`createIfMissing:
 * false`, read-only tools) found no Strand log. Code `STRAND_NOT_FOUND`.
 */
export class LogNotFoundError extends StrandError {
  constructor(where: string, reason: string) {
    super('STRAND_NOT_FOUND', 'invalid', `No Strand log at ${where}: ${reason}. Nothing was created there. Check the path, or create a log (openLog({ path }), strand init).`, {
      details: { where, reason },
    });
  }
}

/**
 * Returns true if `error` is a {@link StrandError} (of any copy of `@strand/core` in the process)
 * with the given code, if one is given.
 */
export function isStrandError(error: unknown, code?: string): error is StrandError {
  return hasBrand(error) && (code === undefined || (error as StrandError).code === code);
}
