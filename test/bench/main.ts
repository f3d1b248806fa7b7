/**
 * `npm run bench [-- --json FILE] [--only a,b] [--scale 0.1] [--runs 5]`: runs every benchmark
 * section, prints a table for people and writes `{"figures":[...]}` for machines.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { type BenchSection, createContext, type Figure, round } from './figure.js';
import { sections } from './sections.js';

const program = new Command('strand-bench')
  .description('Strand benchmark: every figure beside the reference measured in the same run.')
  .option('--json <file>', 'also write the figures as JSON to FILE')
  .option('--only <names>', 'comma-separated section names to run (default: all)')
  .option('--scale <factor>', 'workload scale (1 = full size)', '1')
  .option('--runs <n>', 'repetitions per measurement (medians are reported)', '5')
  .addHelpText('after', `\nSections: ${sections.map((s) => s.name).join(', ')}\n\nExamples:\n  npm run bench\n  npm run bench -- --json bench.json\n  npm run bench -- --only core --scale 0.1 --runs 3`);

program.parse();
const opts = program.opts<{ json?: string; only?: string; scale: string; runs: string }>();
const scale = Number(opts.scale);
const runs = Number(opts.runs);
if (!(scale > 0) || !Number.isInteger(runs) || runs < 1) {
  program.error('--scale must be a positive number and --runs a positive integer');
}
const only = opts.only?.split(',').map((s) => s.trim());
const chosen: BenchSection[] = only ? sections.filter((s) => only.includes(s.name)) : sections;
if (only && chosen.length !== only.length) {
  program.error(`unknown section in --only; known: ${sections.map((s) => s.name).join(', ')}`);
}

const figures: Figure[] = [];
const [single] = chosen;
if (chosen.length === 1 && single) {
  // One section: run it here.
  const ctx = await createContext(scale, runs);
  try {
    ctx.log(`section ${single.name}`);
    figures.push(...(await single.run(ctx)));
    for (const f of figures) ctx.log(`  ${f.id} = ${round(f.value)} ${f.unit}${f.reference ? ` (ref ${f.reference.name}: ${round(f.reference.value)})` : ''}`);
  } finally {
    await ctx.dispose();
  }
} else {
  // Several: each in a process of its own, so one section's heap, JIT state and GC debt do not
  // tilt the next one's figures (measured: S3 appends 19.8k/s after the other sections in one
  // process, 22.5-22.7k/s alone), and the figures of a full run match `--only` runs.
  const dir = await mkdtemp(join(tmpdir(), 'strand-bench-'));
  try {
    for (const section of chosen) {
      const file = join(dir, `${section.name}.json`);
      const args = [...process.execArgv, fileURLToPath(import.meta.url), '--only', section.name, '--scale', String(scale), '--runs', String(runs), '--json', file];
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
        child.on('error', reject);
        child.on('exit', resolve);
      });
      if (code !== 0) throw new Error(`bench section ${section.name} failed (exit ${code}); run it alone: npm run bench -- --only ${section.name}`);
      figures.push(...(JSON.parse(await readFile(file, 'utf8')) as { figures: Figure[] }).figures);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rows = figures.map((f) => [f.id, `${round(f.value)} ${f.unit}`, f.reference ? `${round(f.reference.value)} ${f.unit}` : '-', f.reference?.name ?? '-', f.note ?? '']);
const header = ['figure', 'strand', 'reference', 'reference is', 'workload'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
process.stdout.write(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}\n`);
process.stdout.write(`\nscale ${scale}, medians of ${runs} runs, node ${process.version}\n`);

if (opts.json) {
  const out = { figures: figures.map(({ id, value, unit, reference, note }) => ({ id, value, unit, ...(reference ? { reference } : {}), ...(note ? { note } : {}) })), scale, runs, node: process.version };
  await writeFile(opts.json, `${JSON.stringify(out, null, 2)}\n`);
  process.stderr.write(`[bench] wrote ${opts.json}\n`);
}
