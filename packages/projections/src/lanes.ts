/**
 * Per-stream ordered dispatch, the one piece shared by `ProjectionRunner` (engine.ts) and consumer
 * groups (group/entries.ts): a {@link Lane} holds one stream's pending events in order, at most
 * `cap` of them in memory, with the rest left in the log and read back when the buffer runs dry
 * (so a hot stream costs one entry and never holds up the feeder or any other stream); the head
 * of the lane is the work in flight (at most one piece per stream, so order holds), a failure is
 * retried after an exponential backoff and, after the last attempt, the stream parks while every
 * other lane flows. Designs: docs/design/0007-projections.md ("Dispatch") and
 * docs/design/0011-consumer-groups.md ("Delivery").
 *
 * @module
 */

/** What a lane holds: an event of one stream. */
export interface LaneEvent {
  /** The stream. */
  readonly stream: string;
  /** Its version in the stream. */
  readonly version: number;
  /** Its global position. */
  readonly position: number;
}

/** A stream's events left in the log: read back from `nextVersion` up to `lastSeen`. */
export interface Overflow {
  /** Version of the first event left in the log. */
  nextVersion: number;
  /** Its position (where the lane's pending work starts while nothing is buffered; 0 if unknown). */
  nextPosition: number;
  /** Position of the last event of the stream the feeder has passed (reads stop there). */
  lastSeen: number;
}

/** A read-back a lane asks for: events of its stream from `from`, at most `limit`, none past `to`. */
export interface LaneRead {
  /** The stream. */
  readonly stream: string;
  /** First version wanted. */
  readonly from: number;
  /** Most events. */
  readonly limit: number;
  /** Ignore events after this position (the feeder has not passed them yet). */
  readonly to: number;
}

/** Attempts and backoff before a stream parks. */
export interface RetryPolicy {
  /** Failed attempts before the stream parks. */
  readonly maxAttempts: number;
  /** First retry delay in ms, doubling per attempt. */
  readonly backoffMs: number;
  /** Longest retry delay in ms. */
  readonly maxBackoffMs: number;
}

/** A stream whose handler kept failing: its remaining events wait, in order, until it is retried or skipped. */
export interface ParkedStream {
  /** The stream. */
  readonly stream: string;
  /** Version of the first event not applied (or acknowledged). */
  readonly version: number;
  /** Its global position. */
  readonly position: number;
  /** The handler's last error message. */
  readonly error: string;
  /** The error's code when it was a StrandError (`STRAND_STREAM_TRUNCATED`: history missing). */
  readonly code?: string;
  /** Attempts made. */
  readonly attempts: number;
  /** When it was parked (ms since epoch). */
  readonly parkedAt: number;
}

/** The record of a stream parked at `at` after `attempts` attempts, the last failing with `error`. */
export function parkRecord(stream: string, at: { version: number; position: number }, error: unknown, attempts: number, now: number): ParkedStream {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    stream,
    version: at.version,
    position: at.position,
    error: typeof error === 'string' ? error : String((error as Error)?.message ?? error),
    ...(typeof code === 'string' ? { code } : {}),
    attempts,
    parkedAt: now,
  };
}

/**
 * One stream's pending work, in order. The feeder {@link offer}s each event of the stream as it
 * passes it; the worker takes work from the front ({@link first}, {@link peek}), {@link drop}s it
 * once done, and when the buffer is empty but events were left in the log, asks for a
 * {@link readRequest} and hands the result to {@link absorb}.
 */
export class Lane<E extends LaneEvent> {
  /** Buffered events, oldest first from `head`: the work in flight stays at the front until dropped. */
  private queue: E[] = [];
  private head = 0;
  /** Events of the stream left in the log (the buffer was full, or something is left there already). */
  overflow: Overflow | undefined;
  /** A read-back is in flight (asked by {@link readRequest}, settled by {@link absorb} or {@link readFailed}). */
  reading = false;
  private pendingRead: LaneRead | undefined;
  /** Failed attempts of the work at the front. */
  attempts = 0;
  /** The last failure's message. */
  lastError = '';
  /** When the next attempt is due (ms; 0: now). */
  retryAt = 0;

  constructor(readonly stream: string) {}

  /** Events buffered. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** The oldest buffered event. */
  first(): E | undefined {
    return this.queue[this.head];
  }

  /** The newest buffered event. */
  last(): E | undefined {
    return this.head < this.queue.length ? this.queue[this.queue.length - 1] : undefined;
  }

  /** The first `n` buffered events (a delivery), left in place until {@link drop}. */
  peek(n: number): E[] {
    return this.queue.slice(this.head, this.head + n);
  }

  /** Removes the `n` oldest buffered events (done). */
  drop(n: number): void {
    this.head = Math.min(this.queue.length, this.head + n);
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Appends to the buffer, whatever its size (events that must go first, e.g. read back from an archive). */
  push(e: E): void {
    this.queue.push(e);
  }

  /** Drops everything buffered and forgets what was left in the log (parked); returns how many were buffered. */
  clear(): number {
    const n = this.size;
    this.queue = [];
    this.head = 0;
    this.overflow = undefined;
    return n;
  }

  /**
   * The feeder's next event of the stream: buffered if nothing of the stream is left in the log
   * and fewer than `cap` are buffered, otherwise left in the log ({@link spill}). True if buffered.
   */
  offer(e: E, cap: number): boolean {
    if (this.overflow === undefined && this.size < cap) {
      this.queue.push(e);
      return true;
    }
    this.spill(e);
    return false;
  }

  /** Leaves an event of the stream in the log: the overflow starts at it, or now reaches it. */
  spill(e: LaneEvent): void {
    if (this.overflow === undefined) this.overflow = { nextVersion: e.version, nextPosition: e.position, lastSeen: e.position };
    else if (e.position > this.overflow.lastSeen) this.overflow.lastSeen = e.position;
  }

  /**
   * The read-back to do now, if the buffer is empty, events are left in the log and no read is
   * running: up to `limit` events from the overflow's first version, none past what the feeder
   * has passed.
   */
  readRequest(limit: number): LaneRead | undefined {
    const over = this.overflow;
    if (over === undefined || this.reading || this.size > 0) return undefined;
    this.reading = true;
    this.pendingRead = { stream: this.stream, from: over.nextVersion, limit, to: over.lastSeen };
    return this.pendingRead;
  }

  /** The read-back failed: nothing changed; ask again. */
  readFailed(): void {
    this.reading = false;
    this.pendingRead = undefined;
  }

  /**
   * The result of the read-back: the stream's events from the request's `from`, in order (a reader
   * may stop at the request's `to` and `limit`, or pass them). Events up to what the feeder has
   * passed are buffered if `keep` says so (others are passed over as done); with `contiguous`,
   * buffering stops at a gap in versions after the first kept event (the rest is read again).
   * The overflow ends when the read reached everything the feeder had left. Returns how many
   * events were buffered.
   */
  absorb(events: Iterable<E>, keep: (e: E) => boolean = () => true, contiguous = false): number {
    const req = this.pendingRead;
    const over = this.overflow;
    this.reading = false;
    this.pendingRead = undefined;
    if (req === undefined || over === undefined) return 0;
    const before = this.size;
    let read = 0;
    let last = over.nextPosition - 1;
    let passed = false;
    let gap = false;
    for (const e of events) {
      if (e.version < over.nextVersion) continue;
      if (e.position > over.lastSeen) {
        passed = true;
        break;
      }
      if (contiguous && this.size > 0 && e.version !== this.last()!.version + 1) {
        gap = true;
        break;
      }
      read++;
      last = e.position;
      over.nextVersion = e.version + 1;
      if (keep(e)) this.queue.push(e);
    }
    // Done when the read passed everything the feeder left, or reached the stream's end while the
    // feeder left nothing new meanwhile.
    if (!gap && (passed || last >= over.lastSeen || (read < req.limit && over.lastSeen === req.to))) this.overflow = undefined;
    else over.nextPosition = last + 1;
    return this.size - before;
  }

  /**
   * Records a failed attempt of the work at the front. Returns `'park'` once `maxAttempts` are
   * used up, otherwise the delay before the next attempt (`delayMs` if given, else `backoffMs`
   * doubling per attempt, at most `maxBackoffMs`), and sets {@link retryAt}.
   */
  failed(error: string, now: number, policy: RetryPolicy, delayMs?: number): 'park' | number {
    this.attempts++;
    this.lastError = error;
    if (this.attempts >= policy.maxAttempts) {
      this.retryAt = 0;
      return 'park';
    }
    const delay = delayMs ?? Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (this.attempts - 1));
    this.retryAt = now + delay;
    return delay;
  }

  /** The work at the front succeeded: the next one starts with a clean slate. */
  succeeded(): void {
    this.attempts = 0;
    this.lastError = '';
    this.retryAt = 0;
  }
}
