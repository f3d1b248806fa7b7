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
    let releaseB: () => void = () => {};
    const gateB = new Promise<void>((r) => {
      releaseB = r;
    });
    // B is below its share (one slot) and borrows one at once; its second call must wait.
    const b0 = s.run('B', () => gateB);
    const calls = [
      ...Array.from({ length: 4 }, (_, i) => s.run('A', async () => void order.push(`A${i}`))),
      ...Array.from({ length: 2 }, (_, i) => s.run('B', async () => void order.push(`B${i + 1}`))),
    ];
    expect(s.waiting()).toEqual(new Map([['A', 4], ['B', 2]]));
    release();
    releaseB();
    await Promise.all([first, b0, ...calls]);
    expect(order).toEqual(['A0', 'B1', 'A1', 'B2', 'A2', 'A3']);
    expect(s.waiting().size).toBe(0);
  });

  it('admits a tenant below its fair share at once while a neighbour holds every slot', async () => {
    const s = new FairScheduler(4);
    const gates: Array<() => void> = [];
    const hold = () => new Promise<void>((r) => gates.push(r));
    const flood = Array.from({ length: 10 }, () => s.run('A', hold));
    expect(s.waiting()).toEqual(new Map([['A', 6]]));
    // B's share is 4 / 2 = 2: two calls run at once, the third waits its turn.
    let ran = 0;
    const b = [s.run('B', async () => void ran++), s.run('B', async () => void ran++)];
    expect(ran).toBe(2);
    await Promise.all(b);
    const held: Array<Promise<void>> = [];
    for (let i = 0; i < 3; i++) held.push(s.run('B', hold));
    expect(s.waiting()).toEqual(new Map([['A', 6], ['B', 1]]));
    // Everything queued drains as slots free up.
    while (gates.length > 0) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([...flood, ...held]);
    expect(s.waiting().size).toBe(0);
  });

  it('gives a flooding tenant no freed slot above its share while a neighbour runs, and all of them once it is alone', async () => {
    const s = new FairScheduler(4);
    const gates: Array<() => void> = [];
    const hold = () => new Promise<void>((r) => gates.push(r));
    const flood = Array.from({ length: 10 }, () => s.run('A', hold));
    let releaseB!: () => void;
    const b = s.run('B', () => new Promise<void>((r) => (releaseB = r)));
    // A holds 4, B borrowed 1: shares are 2 each. Two of A's calls finish: A is at 2, its share,
    // so the freed slots stay free although A has 6 waiting.
    gates.shift()!();
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(s.waiting()).toEqual(new Map([['A', 6]]));
    expect(gates.length).toBe(2);
    // A drops below its share: it gets one slot back, up to its share again.
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(s.waiting()).toEqual(new Map([['A', 5]]));
    expect(gates.length).toBe(2);
    // B is done: A is alone and takes every free slot.
    releaseB();
    await b;
    await new Promise((r) => setImmediate(r));
    expect(s.waiting()).toEqual(new Map([['A', 3]]));
    expect(gates.length).toBe(4);
    while (gates.length > 0) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(flood);
    expect(s.waiting().size).toBe(0);
  });

  it('frees the slot when the call fails, and rejects bad sizes', async () => {
    const s = new FairScheduler(1);
    await expect(s.run('A', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await s.run('B', async () => 42)).toBe(42);
    expect(() => new FairScheduler(0)).toThrow(expect.objectContaining({ code: 'STRAND_INVALID_ARGUMENT' }));
  });
});
