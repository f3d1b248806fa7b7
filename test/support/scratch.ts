/**
 * Temporary directories for the logs of one test file, removed after each test.
 *
 * @module
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** Directories named `strand-PREFIX-*`; call once at the top of a test file (it registers the cleanup). */
export function scratchDirs(prefix: string): { fresh(): Promise<string>; copyOf(path: string): Promise<string> } {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const fresh = async () => {
    const dir = await mkdtemp(join(tmpdir(), `strand-${prefix}-`));
    dirs.push(dir);
    return dir;
  };
  return {
    fresh,
    /** A copy of the directory at `path` (a committed fixture log), so a test may write to it. */
    copyOf: async (path: string) => {
      const dir = await fresh();
      await cp(path, dir, { recursive: true });
      return dir;
    },
  };
}
