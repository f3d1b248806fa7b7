import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern } from './names.js';

/** The definition, written the plain way: split both and compare segment by segment. */
function reference(pattern: string, stream: string): boolean {
  const p = pattern.split('/');
  const s = stream.split('/');
  const tail = p[p.length - 1] === '>';
  const fixed = tail ? p.slice(0, -1) : p;
  if (tail ? s.length <= fixed.length : s.length !== fixed.length) return false;
  return fixed.every((seg, i) => seg === '*' || seg === s[i]);
}

const segment = fc.constantFrom('a', 'b', 'ab', 'ba', 'a-b');
const stream = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const pattern = fc
  .tuple(fc.array(fc.oneof(segment, fc.constant('*')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .filter(([segs, tail]) => segs.length > 0 || tail)
  .map(([segs, tail]) => [...segs, ...(tail ? ['>'] : [])].join('/'));

describe('compilePattern', () => {
  it('matches exactly the streams the segment-by-segment definition matches, call after call (property)', () => {
    fc.assert(
      fc.property(pattern, fc.array(stream, { minLength: 1, maxLength: 12 }), (p, streams) => {
        const { matches } = compilePattern(p);
        // Each name twice, the second time as a different string object: the remembered answer
        // must follow the name, not the object.
        for (const s of streams) {
          expect(matches(s)).toBe(reference(p, s));
          expect(matches(`${s} `.slice(0, -1))).toBe(reference(p, s));
        }
      }),
    );
  });

  it('matches the documented examples', () => {
    expect(compilePattern('orders/*/order-42').matches('orders/eu/order-42')).toBe(true);
    expect(compilePattern('orders/*/order-42').matches('orders/eu/x/order-42')).toBe(false);
    expect(compilePattern('orders/>').matches('orders/eu/order-42')).toBe(true);
    expect(compilePattern('orders/>').matches('orders')).toBe(false);
    expect(compilePattern('orders/>').matches('ordersx/1')).toBe(false);
    expect(compilePattern('>').matches('a')).toBe(true);
    expect(compilePattern('a/*').matches('a/b/c')).toBe(false);
    expect(compilePattern('a/*/>').matches('a/b')).toBe(false);
    expect(compilePattern('a/*/>').matches('a/b/c')).toBe(true);
  });
});
