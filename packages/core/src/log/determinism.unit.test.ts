import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const src = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = [
  'log.ts',
  ...readdirSync(join(src, 'log')).map((f) => join('log', f)),
  ...readdirSync(join(src, 'commit')).map((f) => join('commit', f)),
].filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));

describe('the event log reads time and randomness only through its injected clock and id generator', () => {
  it('calls no Date.now(), new Date(), Math.random() or performance.now() (the defaults are passed, not called)', () => {
    assert.ok(files.length >= 8, `found the log's modules: ${files.join(', ')}`);
    const banned = /\bDate\.now\(|\bnew Date\(|\bMath\.random\(|\bperformance\.now\(/;
    for (const f of files) {
      readFileSync(join(src, f), 'utf8')
        .split('\n')
        .forEach((line, i) => assert.doesNotMatch(line, banned, `${f}:${i + 1}`));
    }
  });
});
