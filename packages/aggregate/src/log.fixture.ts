/**
 * The aggregate integration tests' log: a fresh LevelDB log in a temporary directory for each
 * test, closed and removed after it; and how those tests read a failure.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLog, isStrandError, openLog } from '@strand/core';
import { afterEach, beforeEach } from 'vitest';

/**
 * Before each test of the file (or describe block): opens a LevelDB log in a new temporary
 * directory named from `prefix` and hands it to `use`; after each: closes it and removes the directory.
 */
export function levelDbLogPerTest(prefix: string, use: (log: EventLog) => void): void {
  let dir: string | undefined;
  let log: EventLog | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    log = await openLog({ path: dir });
    use(log);
  });
  afterEach(async () => {
    await log?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
}

/** `'ok'` if `p` resolves; else the StrandError's `reason` where it has one, or its code; any other error is rethrown. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (isStrandError(error)) return (error as { reason?: string }).reason ?? error.code;
    throw error;
  }
}
