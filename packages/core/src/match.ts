/**
 * Matching stream names against a pattern, without checking either: the part of `compilePattern`
 * (names.ts, which validates first) that has no dependency at all, not even on Node, so the
 * console's browser bundle shares it through the `@strand/core/match` subpath. Patterns: segments
 * are literals, `*` (exactly one segment) or, as the last segment only, `>` (one or more).
 *
 * @module
 */

/** A pattern's match function, with what a reader uses to narrow its scan. */
export interface PatternMatcher {
  /** True if the stream name matches. */
  matches(stream: string): boolean;
  /** The literal segments before the first wildcard, joined with '/' ('' if it starts with one). */
  readonly literalPrefix: string;
  /** True if the pattern has no wildcard (it names one stream). */
  readonly exact: boolean;
}

/**
 * The matcher of a pattern, which must be valid (`compilePattern` of `@strand/core` checks it; a
 * pattern a server accepted is): on anything else the answers are unspecified.
 */
export function compileMatcher(pattern: string): PatternMatcher {
  const parts = pattern.split('/');
  const firstWild = parts.findIndex((p) => p === '*' || p === '>');
  const exact = firstWild < 0;
  const literalPrefix = (exact ? parts : parts.slice(0, firstWild)).join('/');
  const tail = parts[parts.length - 1] === '>';
  const fixed = tail ? parts.slice(0, -1) : parts;
  return { matches: matcher(pattern, fixed, tail, exact, literalPrefix), literalPrefix, exact };
}

/**
 * The match function of a compiled pattern. It runs once per event of every filtered read,
 * subscription and projection, so it allocates nothing (a `split('/')` per call cost ~1.2 µs per
 * event in a projection catch-up: docs/design/0010-cpu-per-event.md), and it remembers its last
 * answer, since consecutive events mostly share a stream (and its interned name).
 */
function matcher(pattern: string, fixed: readonly string[], tail: boolean, exact: boolean, literalPrefix: string): (stream: string) => boolean {
  if (exact) return (stream) => stream === pattern;
  if (tail && fixed.length === 0) return () => true;
  let last: string | undefined;
  let lastResult = false;
  if (tail && !fixed.includes('*')) {
    // 'a/b/>': a literal prefix and at least one more segment (names have no empty segments).
    const head = `${literalPrefix}/`;
    return (stream) => stream.length > head.length && stream.startsWith(head);
  }
  const test = (stream: string): boolean => {
    let start = 0;
    for (let i = 0; i < fixed.length; i++) {
      const slash = stream.indexOf('/', start);
      const end = slash < 0 ? stream.length : slash;
      if (start >= stream.length) return false;
      const p = fixed[i]!;
      if (p !== '*' && (end - start !== p.length || !stream.startsWith(p, start))) return false;
      if (slash < 0) return !tail && i === fixed.length - 1;
      start = slash + 1;
    }
    // Every fixed segment matched and more of the name follows: only '>' takes the rest.
    return tail;
  };
  return (stream) => {
    if (stream !== last) {
      lastResult = test(stream);
      last = stream;
    }
    return lastResult;
  };
}
