/**
 * Browsing the stream hierarchy: the children of a prefix and stream counts, from the head keys
 * alone (docs/design/0001-key-layout.md).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { headKey, headRangeBelow } from '../keys.js';
import { assertPrefix, decodeName } from '../names.js';
import type { HierarchyEntry, HierarchyPage, ListChildrenOptions } from '../types.js';
import { assertCount } from '../validate.js';
import { type AnyLevel, VALUE_OPTS } from './context.js';

/** See {@link EventLog.listChildren}. */
export async function listChildren(store: AnyLevel, prefix: string, options: ListChildrenOptions): Promise<HierarchyPage> {
  assertPrefix(prefix);
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('listChildren options must be an object.');
  assertCount('limit', options.limit, { min: 1 });
  const limit = Math.min(options.limit ?? 100, 10_000);
  const { gte, lt } = headRangeBelow(prefix);
  const skip = prefix === '' ? 1 : gte.length;
  let lower = gte;
  if (options.after !== undefined) {
    if (typeof options.after !== 'string' || options.after.includes('/')) throw new InvalidArgumentError('after must be a single segment from a previous page.');
    lower = afterSubtree(headKey(prefix === '' ? options.after : `${prefix}/${options.after}`));
  }
  const entries: HierarchyEntry[] = [];
  while (entries.length <= limit) {
    const keys = (await store.keys({ gte: lower, lt, limit: 2, keyEncoding: 'view' }).all()) as Uint8Array[];
    const first = keys[0];
    if (first === undefined) break;
    const rest = first.subarray(skip);
    const sep = rest.indexOf(0x01);
    const segBytes = sep < 0 ? rest : rest.subarray(0, sep);
    const childKey = first.subarray(0, skip + segBytes.length);
    const isStream = sep < 0;
    let hasChildren = !isStream;
    if (isStream) {
      const second = keys[1];
      hasChildren = second !== undefined && second.length > childKey.length && startsWith(second, childKey) && second[childKey.length] === 0x01;
    }
    const segment = decodeName(segBytes);
    entries.push({ name: prefix === '' ? segment : `${prefix}/${segment}`, segment, isStream, hasChildren });
    lower = afterSubtree(childKey);
  }
  if (entries.length > limit) {
    entries.length = limit;
    return { entries, next: entries[limit - 1]!.segment };
  }
  return { entries };
}

/** See {@link EventLog.countStreams}. */
export async function countStreams(store: AnyLevel, prefix: string): Promise<number> {
  assertPrefix(prefix);
  const { gte, lt } = headRangeBelow(prefix);
  let n = 0;
  const it = store.keys({ gte, lt, keyEncoding: 'view' });
  try {
    for (;;) {
      const page = await it.nextv(4096);
      if (page.length === 0) break;
      n += page.length;
    }
  } finally {
    await it.close();
  }
  if (prefix !== '' && (await store.get(headKey(prefix), VALUE_OPTS)) !== undefined) n++;
  return n;
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (a.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

/** The first key after `key` and all of its hierarchy descendants (`key 0x01 ...`). */
function afterSubtree(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key, 0);
  out[key.length] = 0x02;
  return out;
}
