#!/usr/bin/env node
// The `strand` command. A plain-JS shim so npm can link it before the TypeScript is built.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('strand: the CLI is not built yet. Run `npm run build` (or `npm start`) in the repository first.\n');
  process.exit(70);
}
await import(main.href);
