import { describe, expect, it } from 'vitest';
import { Progress } from './progress.js';

describe('Progress', () => {
  it('moves only over the handled prefix, whatever order the slots finish in', () => {
    const p = new Progress();
    p.position = 10;
    const [a, b, c] = [p.add(11), p.add(14), p.add(15)];
    expect(p.pending).toBe(3);
    expect(p.done(c)).toBe(false);
    expect(p.position).toBe(10);
    expect(p.done(b)).toBe(false);
    expect(p.position).toBe(10);
    expect(p.done(a)).toBe(true);
    expect(p.position).toBe(15);
    expect(p.pending).toBe(0);
  });

  it('wakes what waits for it when it moves, not before', async () => {
    const p = new Progress();
    const a = p.add(1);
    const b = p.add(2);
    let woken = 0;
    const waiting = p.next().then(() => woken++);
    p.done(b);
    await Promise.resolve();
    expect(woken).toBe(0);
    p.done(a);
    await waiting;
    expect(woken).toBe(1);
  });

  it('keeps its position right after dropping the slots it passed (long runs)', () => {
    const p = new Progress();
    const slots = Array.from({ length: 3000 }, (_, i) => p.add(i + 1));
    for (const s of slots.slice(0, 2500)) p.done(s);
    expect(p.position).toBe(2500);
    expect(p.pending).toBe(500);
    const late = p.add(3001);
    p.done(late);
    expect(p.position).toBe(2500);
    for (const s of slots.slice(2500)) p.done(s);
    expect(p.position).toBe(3001);
    expect(p.pending).toBe(0);
  });
});
