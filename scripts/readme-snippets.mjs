#!/usr/bin/env node
// The README's TypeScript snippets are regions of files in examples/readme/, which `npm run
// typecheck` compiles with the rest of the repository. In the README each ```ts block follows a
// `<!-- snippet: examples/readme/NAME.ts -->` line; the block is the file's lines between
// `// #region readme` and `// #endregion readme`.
//
//   node scripts/readme-snippets.mjs           copies every region into the README (npm run readme)
//   node scripts/readme-snippets.mjs --check   fails, naming each one, if a block differs from its
//                                              region or a ```ts block has no snippet line
//   --readme FILE                              another README (the test checks a drifted copy)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const check = args.includes('--check');
const readmeAt = args.indexOf('--readme');
const readmePath = readmeAt >= 0 ? args[readmeAt + 1] : join(root, 'README.md');
const MARKER = /^<!-- snippet: (\S+) -->$/;

/** The lines of `file` between its region markers. */
function region(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const start = lines.indexOf('// #region readme');
  const end = lines.indexOf('// #endregion readme');
  if (start < 0 || end < start) throw new Error(`${file}: no "// #region readme" ... "// #endregion readme"`);
  return lines.slice(start + 1, end);
}

const lines = readFileSync(readmePath, 'utf8').split('\n');
const out = [];
const problems = [];
let snippets = 0;
for (let i = 0; i < lines.length; i++) {
  const marker = MARKER.exec(lines[i]);
  if (lines[i] === '```ts' && !MARKER.test(lines[i - 1] ?? '')) problems.push(`README line ${i + 1}: a \`\`\`ts block without a <!-- snippet: examples/readme/NAME.ts --> line above it`);
  out.push(lines[i]);
  if (!marker) continue;
  if (lines[i + 1] !== '```ts') {
    problems.push(`README line ${i + 1}: ${marker[1]}: the snippet line must be followed by a \`\`\`ts block`);
    continue;
  }
  let end = i + 2;
  while (end < lines.length && lines[end] !== '```') end++;
  const shown = lines.slice(i + 2, end);
  const source = region(marker[1]);
  if (shown.join('\n') !== source.join('\n')) problems.push(`README line ${i + 2}: the block differs from the region of ${marker[1]}`);
  out.push('```ts', ...source);
  snippets++;
  i = end - 1;
}

if (check) {
  for (const p of problems) process.stderr.write(`readme-snippets: ${p}\n`);
  if (problems.length > 0) process.stderr.write('readme-snippets: edit the file in examples/readme/, then run `npm run readme` to copy it into the README.\n');
  else process.stdout.write(`readme-snippets: ${snippets} snippets match their files\n`);
  process.exit(problems.length === 0 ? 0 : 1);
}
writeFileSync(readmePath, out.join('\n'));
process.stdout.write(`readme-snippets: ${snippets} snippets copied into ${readmePath}\n`);
