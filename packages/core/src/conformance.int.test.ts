import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { afterAll, it } from 'vitest';
import { runLogConformance } from './testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'strand-conformance-'));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

runLogConformance({ name: 'memory-level', test: it, factory: () => new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }) });
runLogConformance({ name: 'classic-level', test: it, factory: () => new ClassicLevel(join(root, `db-${n++}`), { keyEncoding: 'view', valueEncoding: 'view' }) });
runLogConformance({
  name: 'sublevel of classic-level',
  test: it,
  factory: () => new ClassicLevel(join(root, `db-${n++}`)).sublevel('tenant-a', { keyEncoding: 'view', valueEncoding: 'view' }),
});
