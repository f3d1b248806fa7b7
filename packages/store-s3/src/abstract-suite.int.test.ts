import { describe, expect, it } from 'vitest';
import { ensureRgw } from './testing/rgw.js';
import { runAbstractSuite } from './testing/run-abstract-suite.js';

describe('abstract-level test suite on a real S3 server (Ceph RGW)', () => {
  it('passes against S3Level on RGW', async () => {
    const env = await ensureRgw();
    const r = await runAbstractSuite('rgw', env);
    expect(r.failures).toBe('');
    expect(r.summary).toMatch(/# pass +\d{4,}/);
    expect(r.summary).not.toMatch(/# fail +[1-9]/);
    expect(r.status).toBe(0);
  }, 170_000);
});
