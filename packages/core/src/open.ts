/**
 * Opening a log on the embedded stores: LevelDB on disk (the default) or memory.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { InvalidArgumentError, LogLockedError, LogNotFoundError } from './errors.js';
import { EventLog, type EventLogOptions } from './log.js';

/** Options of {@link openLog}: where to keep the log, plus every {@link EventLogOptions} but `store`. */
export type OpenLogOptions = Omit<EventLogOptions, 'store' | 'ownsStore'> &
  (
    | {
        /** Directory of a LevelDB database (created if missing). */
        path: string;
        memory?: never;
      }
    | {
        /** Keep the log in memory (lost on close; for tests and tools). */
        memory: true;
        path?: never;
      }
  );

/** Directories this process has open through {@link openLog}: LevelDB's lock error cannot tell. */
const openHere = new Set<string>();

/**
 * Opens an event log on LevelDB (`{ path }`) or in memory (`{ memory: true }`). The log owns the
 * database and closes it on `close()`.
 *
 * @example
 * ```ts
 * const log = await openLog({ path: './data' });
 * await log.append('orders/eu/order-42', [{ type: 'OrderPlaced', data: { total: 42 } }], { expectedVersion: 'no_stream' });
 * ```
 */
export async function openLog(options: OpenLogOptions): Promise<EventLog> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('openLog needs { path } or { memory: true }.');
  const { path, memory, ...rest } = options as { path?: unknown; memory?: unknown } & Omit<EventLogOptions, 'store'>;
  let store: EventLogOptions['store'];
  if (memory === true) {
    store = new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' });
  } else if (typeof path === 'string' && path.length > 0) {
    if (rest.pipelineDepth !== undefined && rest.pipelineDepth !== 1) {
      throw new InvalidArgumentError('pipelineDepth must be 1 with { path }: LevelDB runs batches on a thread pool, so it cannot promise to persist them in order. Leave it out.');
    }
    if (rest.createIfMissing === false && !existsSync(join(path, 'CURRENT'))) {
      // Checked before LevelDB opens: it would create its directory, LOCK and LOG files first.
      throw new LogNotFoundError(path, existsSync(path) ? 'the directory holds no LevelDB database' : 'the directory does not exist');
    }
    store = new ClassicLevel(path, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: rest.createIfMissing !== false });
  } else {
    throw new InvalidArgumentError('openLog needs { path: "<directory>" } for LevelDB on disk, or { memory: true }.');
  }
  const where = typeof path === 'string' ? resolve(path) : undefined;
  let log: EventLog;
  try {
    log = await EventLog.open({ ...rest, store, ownsStore: true });
  } catch (error) {
    await store.close().catch(() => {});
    if (where !== undefined && openHere.has(where) && error instanceof LogLockedError) throw new LogLockedError(error.path, error.cause, true);
    throw error;
  }
  if (where !== undefined) {
    openHere.add(where);
    // head$ completes when the log closes.
    log.head$.subscribe({ complete: () => openHere.delete(where) });
  }
  return log;
}
