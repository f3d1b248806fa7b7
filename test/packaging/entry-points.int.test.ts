/**
 * What each entry point of `@strand/core` loads, read from the built JavaScript (`npm run build`
 * first; `npm test` does): the main entry reaches only what a plain event log uses, and the
 * optional features are reachable only through their subpaths.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const core = resolve(root, 'packages/core');
const exportsOf = (pkg: string) => (JSON.parse(readFileSync(resolve(pkg, 'package.json'), 'utf8')) as { exports: Record<string, { default: string } | string> }).exports;

/** Every bare specifier (package or `node:` builtin) the module graph from `entry` imports statically. */
function bareImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^\s*(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  };
  visit(entry);
  return bare;
}

const entry = (sub: string) => {
  const e = exportsOf(core)[sub];
  if (e === undefined || typeof e === 'string') throw new Error(`no export ${sub}`);
  return resolve(core, e.default);
};
const packages = (set: Set<string>) => [...set].filter((s) => !s.startsWith('node:')).sort();

describe('@strand/core entry points', () => {
  it('the main entry loads only the event log\'s own dependencies and its peers', () => {
    expect(packages(bareImports(entry('.')))).toEqual(['classic-level', 'memory-level', 'msgpackr', 'rxjs', 'zod']);
  });

  it('tenancy, export and DI load their optional peers only through their subpaths', () => {
    expect(packages(bareImports(entry('./tenancy')))).toContain('prom-client');
    expect(packages(bareImports(entry('./export')))).toContain('hyparquet-writer');
    // The composition root uses tsyringe's types only: the app brings tsyringe and reflect-metadata.
    for (const sub of ['./tenancy', './export', './di', './testing']) {
      const loaded = packages(bareImports(entry(sub)));
      expect(loaded).not.toContain('tsyringe');
      expect(loaded).not.toContain('reflect-metadata');
      expect(loaded).not.toContain('commander');
    }
  });

  it('importing @strand/core installs no global Reflect.getMetadata', async () => {
    const script = "await import('@strand/core'); await import('@strand/core/di'); process.stdout.write(typeof Reflect.getMetadata);";
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    expect(stdout).toBe('undefined');
  });
});

describe('@strand/aggregate/snapshots', () => {
  it('loads nothing but core (the server reads snapshots through it without the aggregate machinery)', () => {
    const aggregate = resolve(root, 'packages/aggregate');
    const e = exportsOf(aggregate)['./snapshots'];
    if (e === undefined || typeof e === 'string') throw new Error('no export ./snapshots');
    expect(packages(bareImports(resolve(aggregate, e.default)))).toEqual(['@strand/core']);
  });
});
