import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The README's TypeScript snippets are regions of examples/readme/*.ts, which `npm run typecheck`
// compiles: a snippet that no longer compiles fails the typecheck, and one edited in the README
// alone (or in its file alone) fails here.
const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'scripts', 'readme-snippets.mjs');
const run = promisify(execFile);

async function check(readme: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [script, '--check', '--readme', readme]);
    return { ok: true, output: stdout };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr) };
  }
}

describe('README snippets', () => {
  it('every ```ts block of the README is the region of its file in examples/readme/', async () => {
    const { ok, output } = await check(join(root, 'README.md'));
    expect(output).toMatch(/^readme-snippets: \d+ snippets match their files/);
    expect(ok).toBe(true);
    expect(Number(/(\d+) snippets/.exec(output)?.[1])).toBeGreaterThanOrEqual(13);
  });

  it('names a block edited in the README alone, and a ```ts block without a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-readme-'));
    try {
      const readme = await readFile(join(root, 'README.md'), 'utf8');
      const drifted = join(dir, 'drifted.md');
      await writeFile(drifted, readme.replace("const log = await openLog({ path: './data' });", "const log = await openLog({ path: './elsewhere' });"));
      const a = await check(drifted);
      expect(a.ok).toBe(false);
      expect(a.output).toContain('the block differs from the region of examples/readme/log.ts');
      const unlinked = join(dir, 'unlinked.md');
      await writeFile(unlinked, `${readme}\n\`\`\`ts\nconst x: number = 'not compiled';\n\`\`\`\n`);
      const b = await check(unlinked);
      expect(b.ok).toBe(false);
      expect(b.output).toContain('a ```ts block without a <!-- snippet');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
