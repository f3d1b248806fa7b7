// Builds the console into packages/console/dist/ui (served by @strand/console's serveConsole at /ui).
// The generated protocol code is taken from @strand/protocol's sources (messages and service
// descriptors only: nothing of Node is bundled); of @strand/core, only the dependency-free stream
// pattern matcher of its `match` subpath.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: './',
  logLevel: 'warn',
  resolve: { alias: { '@strand/wire': here('../../protocol/src/gen/strand/v1') } },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/ui'),
    emptyOutDir: true,
    target: 'es2022',
    // One JS and one CSS file: the console is small, and a single request is the fastest first load.
    cssCodeSplit: false,
    modulePreload: false,
    reportCompressedSize: false,
  },
});
