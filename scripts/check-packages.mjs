#!/usr/bin/env node
// Checks each publishable package as npm would ship it: publint (package.json, exports, files)
// and @arethetypeswrong/cli (`attw --pack`: the types resolve for every entry point under Node's
// ESM resolution and bundlers; the packages are ESM-only, so the CommonJS and node10 rows are
// ignored with the `esm-only` profile). Run by .ci/run; `npm run check:packages` locally.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = 0;
for (const dir of readdirSync(join(root, 'packages'))) {
  const cwd = join(root, 'packages', dir);
  const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const checks = [[bin('publint'), ['--strict']]];
  // A package with entry points (not a bin-only tool) also has its types checked.
  if (pkg.exports) checks.push([bin('attw'), ['--pack', '.', '--profile', 'esm-only']]);
  for (const [cmd, args] of checks) {
    try {
      execFileSync(cmd, args, { cwd, stdio: 'inherit' });
    } catch {
      failed++;
      process.stderr.write(`check-packages: ${pkg.name}: ${cmd.split('/').pop()} failed\n`);
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
