/**
 * Bytes a store occupies on disk: for `strand info`/`strand compact`, the tests and the benchmark
 * (exported from `@strand/core/testing`).
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Total size in bytes of the files under `dir` (recursively). */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await dirSize(path) : (await stat(path)).size;
  }
  return total;
}
