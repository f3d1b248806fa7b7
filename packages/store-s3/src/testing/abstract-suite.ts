/**
 * Runs abstract-level's own (tape) test suite against S3Level, as a script:
 *
 *   node --import tsx packages/store-s3/src/testing/abstract-suite.ts memory|rgw
 *
 * Exit code 0 means every assertion passed. `abstract-suite.int.test.ts` runs it under vitest.
 * It is a separate process because the suite is written for tape (plans, `t.end`, its own runner).
 *
 * @module
 */
import { createRequire } from 'node:module';
import { InMemoryObjectStore } from '../object-store/memory.js';
import type { ObjectStore } from '../object-store/types.js';
import { S3Level } from '../s3-level.js';
import { ensureRgw, rgwStore, uniquePrefix } from './rgw.js';

const require = createRequire(import.meta.url);
const test = require('tape') as { onFinish(fn: () => void): void };
const suite = require('abstract-level/test') as (o: { test: unknown; factory: (options?: object) => unknown }) => void;

const backend = process.argv[2] ?? 'memory';
let shared: (ObjectStore & { destroy?: () => void }) | undefined;
let base = '';
if (backend === 'rgw') {
  const env = await ensureRgw();
  shared = rgwStore(env);
  base = uniquePrefix('abstract-suite');
} else if (backend !== 'memory') {
  throw new Error(`unknown backend ${backend}`);
}

let n = 0;
suite({
  test,
  factory(options?: object) {
    return new S3Level({
      ...options,
      store: shared ?? new InMemoryObjectStore(),
      prefix: `${base}db-${n++}/`,
      // Eager group commit keeps the suite's thousands of sequential durable writes fast.
      flushIntervalMs: 0,
    });
  },
});

test.onFinish(() => {
  shared?.destroy?.();
});
