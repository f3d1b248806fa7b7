import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The README and docs/ link design notes by file name: a renamed note must not leave a link to
// nothing behind (`npm run check` runs the same script).
const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'scripts', 'doc-links.mjs');
const run = promisify(execFile);

async function check(...files: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [script, ...files]);
    return { ok: true, output: stdout };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr) };
  }
}

describe('documentation links', () => {
  it("every relative link of the README and docs/ points at a file that exists", async () => {
    const { ok, output } = await check();
    expect(output).toMatch(/^doc-links: \d+ relative links in \d+ files point at files that exist/);
    expect(ok).toBe(true);
    expect(Number(/(\d+) relative links/.exec(output)?.[1])).toBeGreaterThanOrEqual(10);
  });

  it('names a link to a missing file, and passes over anchors, URLs and code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-links-'));
    try {
      await writeFile(join(dir, 'there.md'), '# there\n');
      const doc = join(dir, 'doc.md');
      await writeFile(
        doc,
        [
          'See [the note](there.md#a-section) and [the site](https://example.com/missing.md).',
          'Also [gone](docs/design/0009-server.md) and [top](#doc).',
          'In code: `[x](nowhere.md)`.',
          '```md',
          '[y](nowhere-either.md)',
          '```',
        ].join('\n'),
      );
      const { ok, output } = await check(doc);
      expect(ok).toBe(false);
      expect(output).toContain('a link to docs/design/0009-server.md, which does not exist');
      expect(output).toContain('1 broken link(s)');
      await writeFile(doc, 'See [the note](there.md).\n');
      expect((await check(doc)).ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
