import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The generated code is committed; it must be what `npm run proto` makes from proto/ now.
const root = fileURLToPath(new URL('../../..', import.meta.url));
const buf = join(root, 'node_modules', '.bin', 'buf');
const out = mkdtempSync(join(tmpdir(), 'strand-proto-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('proto/strand/v1', () => {
  it('passes buf lint', () => {
    execFileSync(buf, ['lint'], { cwd: root, stdio: 'pipe' });
  });

  it('matches the committed generated code (run `npm run proto` after changing proto/)', () => {
    execFileSync(buf, ['generate', '--output', out], { cwd: root, stdio: 'pipe', env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` } });
    const committed = join(root, 'packages', 'protocol', 'src', 'gen');
    const fresh = join(out, 'packages', 'protocol', 'src', 'gen');
    expect(files(fresh)).toEqual(files(committed));
    for (const f of files(committed)) expect(readFileSync(join(fresh, f), 'utf8'), f).toBe(readFileSync(join(committed, f), 'utf8'));
  });
});
