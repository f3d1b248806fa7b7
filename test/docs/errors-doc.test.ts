import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Error codes are API: every code the sources can throw (or act on: the Level ecosystem's LEVEL_*
// codes) must be documented in docs/errors.md, and the docs must not list codes that no longer exist.
const root = fileURLToPath(new URL('../..', import.meta.url));
/** Environment variables share the prefix; they are not error codes. */
const ENV_VARS = new Set(['STRAND_PATH', 'STRAND_SERVER', 'STRAND_API_KEY']);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') out.push(...(await sourceFiles(path)));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

describe('docs/errors.md', () => {
  it('documents every error code the packages define, and only those', async () => {
    const codes = new Set<string>();
    for (const pkg of await readdir(join(root, 'packages'))) {
      for (const file of await sourceFiles(join(root, 'packages', pkg, 'src'))) {
        for (const m of (await readFile(file, 'utf8')).matchAll(/['"`]((?:STRAND|LEVEL)_[A-Z0-9_]+)['"`]/g)) if (!ENV_VARS.has(m[1]!)) codes.add(m[1]!);
      }
    }
    const doc = await readFile(join(root, 'docs', 'errors.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `((?:STRAND|LEVEL)_[A-Z0-9_]+)`/gm)].map((m) => m[1]!));
    expect(codes.size).toBeGreaterThan(10);
    expect([...codes].filter((c) => !documented.has(c)).sort(), 'codes missing from docs/errors.md').toEqual([]);
    expect([...documented].filter((c) => !codes.has(c)).sort(), 'documented codes that no source defines').toEqual([]);
  });
});
