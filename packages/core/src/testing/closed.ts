/**
 * The "fails once closed" check, generated for every public operation of {@link EventLog}: the
 * table below has an entry per public member (the compiler checks it: a new public method with no
 * entry fails `tsc`), and the conformance suite calls each on a closed log.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { type Observable, isObservable } from 'rxjs';
import { isStrandError } from '../errors.js';
import type { EventLog } from '../log.js';

/**
 * Public members that are not operations on the log's data and keep working once it is closed,
 * each with the reason.
 */
const EXEMPT = {
  /** Closing is idempotent: a second close resolves. */
  close: 'idempotent',
  /** Getters of the log's state: they answer on a closed log. */
  isClosed: 'state',
  position: 'state',
  codec: 'state',
  head$: 'state (completes at close)',
  /** A report from a layer above to the registered meters; no storage involved. */
  recordWork: 'no storage',
  /** Registers a callback; no storage involved, and removing it later must work on a closed log. */
  addWorkMeter: 'no storage',
  /** Returns a view of the store; using it fails with the store's own LEVEL_DATABASE_NOT_OPEN (checked below). */
  sublevel: 'checked separately',
} as const;

type Operation = Exclude<keyof EventLog, keyof typeof EXEMPT>;

/** One call per public operation, with valid arguments, so only the closed state can fail it. */
export const CLOSED_OPERATIONS: { readonly [K in Operation]: (log: EventLog) => unknown } = {
  append: (log) => log.append('closed/a', [{ type: 'T', data: {} }]),
  appendMulti: (log) => log.appendMulti([{ stream: 'closed/a', events: [{ type: 'T', data: {} }] }]),
  headPosition: (log) => log.headPosition(),
  streamInfo: (log) => log.streamInfo('closed/a'),
  readStream: (log) => log.readStream('closed/a'),
  readAll: (log) => log.readAll(),
  follow: (log) => log.follow('closed/>'),
  followJson: (log) => log.followJson('closed/>'),
  subscribe: (log) => log.subscribe('closed/>'),
  waitForPosition: (log) => log.waitForPosition(log.position + 1, 1000),
  listChildren: (log) => log.listChildren(''),
  countStreams: (log) => log.countStreams(),
  deleteStream: (log) => log.deleteStream('closed/a'),
  truncateBefore: (log) => log.truncateBefore('closed/a', 1),
  verify: (log) => log.verify(),
  compact: (log) => log.compact(),
  addInterceptors: (log) => log.addInterceptors({ read: { name: 'noop', onRead: (e) => e } }),
  addCommitHook: (log) => log.addCommitHook({ name: 'noop', onCommit: () => {} }),
};

/**
 * Runs one operation on a closed log and asserts it fails with `STRAND_LOG_CLOSED`, whether it
 * throws, rejects, fails on the first read of an iterable, or errors an Observable.
 */
export async function assertFailsClosed(name: string, call: (log: EventLog) => unknown, log: EventLog): Promise<void> {
  let outcome: unknown;
  try {
    const r = call(log);
    if (isObservable(r)) {
      await new Promise<void>((resolve, reject) => {
        const sub = (r as Observable<unknown>).subscribe({ next: () => {}, error: reject, complete: resolve });
        void sub;
      });
    } else if (r !== null && typeof r === 'object' && Symbol.asyncIterator in r) {
      await (r as AsyncIterable<unknown>)[Symbol.asyncIterator]().next();
    } else {
      await r;
    }
    outcome = 'nothing was thrown';
  } catch (error) {
    if (isStrandError(error, 'STRAND_LOG_CLOSED')) return;
    outcome = `${(error as { code?: string })?.code ?? ''} ${(error as Error)?.message ?? String(error)}`;
  }
  assert.fail(`${name} on a closed log: expected STRAND_LOG_CLOSED, got ${outcome}`);
}
