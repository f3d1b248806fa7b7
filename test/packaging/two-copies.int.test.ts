/**
 * An app can end up with two copies of `@strand/core` (two versions in node_modules, or one
 * bundled twice). Errors made by one copy must still be recognised by the other's
 * `isStrandError` and `instanceof StrandError`: they carry a registry-wide brand (Symbol.for).
 * The second copy is the built package (`npm run build` first; `npm test` does) copied to a
 * directory of its own.
 */
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as core from '@strand/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let other: typeof core;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-two-cores-'));
  const pkg = join(dir, 'core-copy');
  await cp(join(root, 'packages/core/dist'), join(pkg, 'dist'), { recursive: true });
  await cp(join(root, 'packages/core/package.json'), join(pkg, 'package.json'));
  await symlink(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  other = (await import(pathToFileURL(join(pkg, 'dist/index.js')).href)) as typeof core;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function conflictFrom(lib: typeof core): Promise<unknown> {
  const log = await lib.openLog({ memory: true });
  try {
    await log.append('orders/o-1', [{ type: 'Placed', data: {} }]);
    await log.append('orders/o-1', [{ type: 'Placed', data: {} }], { expectedVersion: 'no_stream' });
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await log.close();
  }
}

describe('two copies of @strand/core in one process', () => {
  it('are distinct classes', () => {
    expect(other.StrandError).not.toBe(core.StrandError);
    expect(other.isStrandError).not.toBe(core.isStrandError);
  });

  it('recognise each other\'s errors by brand and code', async () => {
    const fromOther = await conflictFrom(other);
    const fromThis = await conflictFrom(core);
    for (const [error, recogniser] of [
      [fromOther, core],
      [fromThis, other],
    ] as const) {
      expect(recogniser.isStrandError(error)).toBe(true);
      expect(recogniser.isStrandError(error, 'STRAND_WRONG_EXPECTED_VERSION')).toBe(true);
      expect(recogniser.isStrandError(error, 'STRAND_LOG_CLOSED')).toBe(false);
      expect(error instanceof recogniser.StrandError).toBe(true);
      expect((error as core.StrandError).kind).toBe('conflict');
    }
    // A subclass of the other copy is a different class: instanceof checks its prototype chain.
    expect(fromOther instanceof core.WrongExpectedVersionError).toBe(false);
    expect(fromOther instanceof other.WrongExpectedVersionError).toBe(true);
  });

  it('do not take look-alikes for Strand errors', () => {
    const lookAlike = Object.assign(new Error('x'), { code: 'STRAND_WRONG_EXPECTED_VERSION', kind: 'conflict' });
    expect(core.isStrandError(lookAlike)).toBe(false);
    expect(lookAlike instanceof core.StrandError).toBe(false);
    expect(core.isStrandError(null)).toBe(false);
    expect(core.isStrandError('STRAND_WRONG_EXPECTED_VERSION')).toBe(false);
  });
});
