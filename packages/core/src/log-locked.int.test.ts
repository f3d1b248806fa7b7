import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogLockedError, StrandError } from './errors.js';
import { openLog } from './open.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('a log another EventLog holds', () => {
  it('fails to open with LogLockedError: STRAND_LOG_LOCKED, kind unavailable, and the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-locked-'));
    dirs.push(dir);
    const first = await openLog({ path: dir });
    try {
      const error = await openLog({ path: dir }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LogLockedError);
      expect(error).toBeInstanceOf(StrandError);
      const locked = error as LogLockedError;
      expect([locked.code, locked.kind, locked.path, locked.details.path]).toEqual(['STRAND_LOG_LOCKED', 'unavailable', dir, dir]);
      expect(locked.message).toContain(dir);
      expect((locked.cause as { code?: string }).code).toBe('LEVEL_DATABASE_NOT_OPEN');
    } finally {
      await first.close();
    }
    // Once the holder closes, the log opens.
    const again = await openLog({ path: dir });
    await again.close();
  });
});
