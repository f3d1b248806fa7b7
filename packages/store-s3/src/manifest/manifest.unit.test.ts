import { describe, expect, it } from 'vitest';
import { CorruptionError } from '@strand/core';
import { ManifestInvariantError } from '../errors.js';
import type { Manifest } from './format.js';
import { decodeManifest, emptyManifest, encodeManifest, manifestKey, manifestVersionOf } from './format.js';
import { checkManifestTransition } from './invariants.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const table = (id: string, min: string, max: string) => ({ id, size: 100, entries: 1, min: b64(min), max: b64(max) });

describe('manifest', () => {
  const m1 = emptyManifest();
  const m2: Manifest = { ...m1, version: 2, l0: [table('1-a', 'a', 'c')] };

  it('round-trips and names versions in LIST order', () => {
    expect(decodeManifest(encodeManifest(m2))).toEqual(m2);
    expect(manifestKey('', 9) < manifestKey('', 10)).toBe(true);
    expect(manifestVersionOf('x/', manifestKey('x/', 77))).toBe(77);
  });

  it('accepts a valid transition, one skipping a void slot, and a fencing one', () => {
    expect(() => checkManifestTransition(m1, m2, false)).not.toThrow();
    expect(() => checkManifestTransition(m1, { ...m2, version: 4 }, false)).not.toThrow();
    expect(() => checkManifestTransition(m2, { ...m2, version: 3, epoch: 2 }, true)).not.toThrow();
  });

  it.each([
    ['a version that does not grow', { ...m2, version: 1 }, false],
    ['an epoch change without fencing', { ...m2, epoch: 2 }, false],
    ['fencing without an epoch bump', { ...m2 }, true],
    ['a table listed twice', { ...m2, l1: [table('1-a', 'x', 'y')] }, false],
    ['overlapping L1 tables', { ...m2, l1: [table('1-b', 'a', 'm'), table('1-c', 'k', 'z')] }, false],
    ['L1 out of order', { ...m2, l1: [table('1-b', 'k', 'z'), table('1-c', 'a', 'c')] }, false],
    ['min > max', { ...m2, l0: [table('1-a', 'z', 'a')] }, false],
  ] as [string, Manifest, boolean][])('rejects %s', (_name, next, fencing) => {
    expect(() => checkManifestTransition(m1, next, fencing)).toThrow(ManifestInvariantError);
  });

  it('M6: walReplayFrom may stay or grow but never go back, whatever else is valid', () => {
    const prev: Manifest = { ...m2, walReplayFrom: 40 };
    expect(() => checkManifestTransition(prev, { ...prev, version: 3, walReplayFrom: 40 }, false)).not.toThrow();
    expect(() => checkManifestTransition(prev, { ...prev, version: 3, walReplayFrom: 57 }, false)).not.toThrow();
    expect(() => checkManifestTransition(prev, { ...prev, version: 3, walReplayFrom: 39 }, false)).toThrow(/walReplayFrom went back 40 -> 39/);
    expect(() => checkManifestTransition(prev, { ...prev, version: 3, epoch: 2, walReplayFrom: 1 }, true)).toThrow(/walReplayFrom/);
  });

  it('rejects garbage objects', () => {
    expect(() => decodeManifest(Buffer.from('{nope'))).toThrow(CorruptionError);
    expect(() => decodeManifest(Buffer.from(JSON.stringify({ ...m1, format: 99 })))).toThrow(CorruptionError);
  });
});
