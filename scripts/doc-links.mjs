#!/usr/bin/env node
// Relative links of the documentation point at files that exist: the README and docs/**/*.md
// cross-reference design notes by file name, and a renumbered or renamed note leaves a link that
// renders as a 404 on GitHub and npm. Links with a scheme (https:, mailto:) and pure anchors are
// not checked; an anchor after a file (`0010-cpu-per-event.md#record-format-3`) checks the file.
//
//   node scripts/doc-links.mjs                 checks README.md and docs/**/*.md (npm run check)
//   node scripts/doc-links.mjs FILE [FILE...]  checks these files (the test checks a broken copy)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every Markdown file below `dir`. */
function markdownBelow(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return markdownBelow(path);
    return d.name.endsWith('.md') ? [path] : [];
  });
}

/** The targets of `[text](target)` links in `text`, outside code spans and fenced blocks. */
function linkTargets(text) {
  const targets = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) targets.push(m[1]);
  }
  return targets;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : [join(root, 'README.md'), ...markdownBelow(join(root, 'docs'))];
const broken = [];
let checked = 0;
for (const file of files) {
  for (const target of linkTargets(readFileSync(file, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    const path = decodeURIComponent(target.split('#')[0]);
    checked++;
    if (!existsSync(join(dirname(file), path))) broken.push(`${relative(root, file)}: a link to ${target}, which does not exist`);
  }
}
if (broken.length > 0) {
  process.stderr.write(`${broken.join('\n')}\ndoc-links: ${broken.length} broken link(s); point them at the file as it is named now.\n`);
  process.exit(1);
}
process.stdout.write(`doc-links: ${checked} relative links in ${files.length} files point at files that exist\n`);
