/**
 * Schema evolution checks on the JSON Schema zod produces, in the registries' usual terms:
 * BACKWARD (readers of the new version read data written with the old one), FORWARD (readers of
 * the old version read data written with the new one), FULL (both). Each is a subset question:
 * "is every value valid under A also valid under B?", answered structurally and conservatively:
 * when unsure, it says no, with the reason. A removed field counts as a break even for open
 * objects: zod strips unknown keys, so readers of the new version would silently lose its data.
 *
 * @module
 */

/** The JSON Schema subset zod's `toJSONSchema` emits for event payloads. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  pattern?: string;
  [k: string]: unknown;
}

/** Compatibility modes. */
export type Compatibility = 'backward' | 'forward' | 'full' | 'none';

const types = (s: JsonSchema): Set<string> | undefined => {
  if (s.type === undefined) return undefined;
  const t = new Set(Array.isArray(s.type) ? s.type : [s.type]);
  if (t.has('number')) t.add('integer');
  return t;
};

/**
 * Reasons why some value valid under `a` may be invalid under `b` (empty: `a` ⊆ `b`). Paths use
 * dots for properties and `[]` for array items.
 */
export function subsetProblems(a: JsonSchema, b: JsonSchema, path = '(root)'): string[] {
  const problems: string[] = [];
  const alts = (s: JsonSchema) => s.anyOf ?? s.oneOf;
  const aAlts = alts(a);
  if (aAlts) {
    for (const [i, branch] of aAlts.entries()) problems.push(...subsetProblems({ ...a, anyOf: undefined, oneOf: undefined, ...branch }, b, `${path}|${i}`));
    return problems;
  }
  const bAlts = alts(b);
  if (bAlts) {
    const fits = bAlts.some((branch) => subsetProblems(a, { ...b, anyOf: undefined, oneOf: undefined, ...branch }, path).length === 0);
    return fits ? [] : [`${path}: no alternative of the new schema accepts every value of the old one`];
  }
  if (b.const !== undefined && JSON.stringify(a.const) !== JSON.stringify(b.const)) return [`${path}: must now be exactly ${JSON.stringify(b.const)}`];
  if (b.enum !== undefined) {
    const from = a.enum ?? (a.const !== undefined ? [a.const] : undefined);
    if (from === undefined) return [`${path}: is now restricted to ${JSON.stringify(b.enum)}`];
    const missing = from.filter((v) => !b.enum!.some((w) => JSON.stringify(w) === JSON.stringify(v)));
    if (missing.length > 0) return [`${path}: ${missing.map((m) => JSON.stringify(m)).join(', ')} no longer allowed`];
  }
  const ta = types(a);
  const tb = types(b);
  if (tb !== undefined) {
    if (ta === undefined) return [`${path}: any value was allowed, now only ${[...tb].join('/')}`];
    const lost = [...ta].filter((t) => !tb.has(t) && !(t === 'integer' && tb.has('number')));
    if (lost.length > 0) return [`${path}: type changed (${[...ta].join('/')} -> ${[...tb].join('/')})`];
  }
  const bound = (name: string, lower: boolean) => {
    const av = a[name] as number | undefined;
    const bv = b[name] as number | undefined;
    if (bv === undefined) return;
    if (av === undefined || (lower ? av < bv : av > bv)) problems.push(`${path}: ${name} tightened to ${bv}`);
  };
  for (const n of ['minimum', 'exclusiveMinimum', 'minLength', 'minItems']) bound(n, true);
  for (const n of ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems']) bound(n, false);
  if (b.format !== undefined && a.format !== b.format) problems.push(`${path}: now requires format ${b.format}`);
  if (b.pattern !== undefined && a.pattern !== b.pattern) problems.push(`${path}: now requires pattern ${b.pattern}`);

  const isObject = (ta?.has('object') ?? false) || a.properties !== undefined;
  if (isObject && (tb?.has('object') || b.properties !== undefined)) {
    const ap = a.properties ?? {};
    const bp = b.properties ?? {};
    const aReq = new Set(a.required ?? []);
    for (const req of b.required ?? []) {
      if (!aReq.has(req)) problems.push(`${path}.${req}: is now required${req in ap ? ' (was optional)' : ' (new field without a default)'}`);
    }
    for (const [k, sub] of Object.entries(ap)) {
      const target = bp[k];
      if (target !== undefined) problems.push(...subsetProblems(sub, target, `${path}.${k}`));
      else if (typeof b.additionalProperties === 'object') problems.push(...subsetProblems(sub, b.additionalProperties, `${path}.${k}`));
      // A closed schema rejects it; an open one (zod's default) strips it on parse: either way the
      // field's data is lost to readers of the new version.
      else problems.push(`${path}.${k}: field removed (${b.additionalProperties === false ? 'values that have it are now rejected' : 'its data would be dropped on read'})`);
    }
    if (b.additionalProperties === false && a.additionalProperties !== false) problems.push(`${path}: no longer accepts extra fields`);
  }
  const isArray = (ta?.has('array') ?? false) || a.items !== undefined;
  if (isArray && b.items !== undefined) {
    problems.push(...(a.items ? subsetProblems(a.items, b.items, `${path}[]`) : [`${path}[]: items are now constrained`]));
  }
  return problems;
}

/** Why `next` is not compatible with `previous` under `mode` (empty: compatible). */
export function compatibilityProblems(previous: JsonSchema, next: JsonSchema, mode: Compatibility): string[] {
  const problems: string[] = [];
  if (mode === 'backward' || mode === 'full') problems.push(...subsetProblems(previous, next).map((p) => `backward: ${p}`));
  if (mode === 'forward' || mode === 'full') problems.push(...subsetProblems(next, previous).map((p) => `forward: ${p}`));
  return problems;
}
