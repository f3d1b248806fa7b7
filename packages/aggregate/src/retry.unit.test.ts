import { isStrandError } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { backOff, backoffDelay, resolveBackoff } from './retry.js';

describe('retry backoff', () => {
  it('doubles from backoffMs, caps at maxBackoffMs, and jitters into [half, whole]', () => {
    const fixed = (r: number) => resolveBackoff({ backoffMs: 2, maxBackoffMs: 100, random: () => r }, { backoffMs: 9, maxBackoffMs: 9 });
    expect([0, 1, 2, 3, 6, 7, 20].map((a) => backoffDelay(a, fixed(1)))).toEqual([2, 4, 8, 16, 100, 100, 100]);
    expect([0, 1, 5, 6].map((a) => backoffDelay(a, fixed(0)))).toEqual([1, 2, 32, 50]);
  });

  it('fills in the caller defaults and waits through the injected sleep', async () => {
    const waits: number[] = [];
    const b = resolveBackoff({ random: () => 1, sleep: async (ms) => void waits.push(ms) }, { backoffMs: 20, maxBackoffMs: 1000 });
    expect([b.backoffMs, b.maxBackoffMs]).toEqual([20, 1000]);
    await backOff(0, b);
    await backOff(2, b);
    expect(waits).toEqual([20, 80]);
  });

  it('refuses wrong options with STRAND_INVALID_ARGUMENT naming the field', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (error) {
        return isStrandError(error, 'STRAND_INVALID_ARGUMENT') ? error.message : String(error);
      }
    };
    const d = { backoffMs: 1, maxBackoffMs: 1 };
    expect(codeOf(() => resolveBackoff({ backoffMs: -1 }, d))).toMatch(/^backoffMs/);
    expect(codeOf(() => resolveBackoff({ maxBackoffMs: 1.5 }, d))).toMatch(/^maxBackoffMs/);
    expect(codeOf(() => resolveBackoff({ sleep: 5 as never }, d))).toMatch(/^sleep/);
    expect(codeOf(() => resolveBackoff({}, d))).toBe('ok');
  });
});
