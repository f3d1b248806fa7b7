import { describe, expect, it } from 'vitest';
import { FairScheduler } from './fair-scheduler.js';

describe('FairScheduler', () => {
  it('hands freed slots round-robin between tenants, not in arrival order', async () => {
    const s = new FairScheduler(1);
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = s.run('A', () => gate);
    const calls = [
      ...Array.from({ length: 4 }, (_, i) => s.run('A', async () => void order.push(`A${i}`))),
      ...Array.from({ length: 2 }, (_, i) => s.run('B', async () => void order.push(`B${i}`))),
    ];
    expect(s.waiting()).toEqual(new Map([['A', 4], ['B', 2]]));
    release();
    await Promise.all([first, ...calls]);
    expect(order).toEqual(['A0', 'B0', 'A1', 'B1', 'A2', 'A3']);
    expect(s.waiting().size).toBe(0);
  });

  it('frees the slot when the call fails, and rejects bad sizes', async () => {
    const s = new FairScheduler(1);
    await expect(s.run('A', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await s.run('B', async () => 42)).toBe(42);
    expect(() => new FairScheduler(0)).toThrow(expect.objectContaining({ code: 'STRAND_INVALID_ARGUMENT' }));
  });
});
