import { describe, expect, it } from 'vitest';
import { runAbstractSuite } from './testing/run-abstract-suite.js';

describe('abstract-level test suite (tape, child process)', () => {
  it('passes against S3Level on the in-memory object store', async () => {
    const r = await runAbstractSuite('memory');
    expect(r.failures).toBe('');
    expect(r.summary).toMatch(/# pass +\d{4,}/);
    expect(r.summary).not.toMatch(/# fail +[1-9]/);
    expect(r.status).toBe(0);
  }, 120_000);
});
