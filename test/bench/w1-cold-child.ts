/**
 * W1 in a fresh process: the first appends a process makes, while V8 still interprets and compiles
 * the append path (docs/design/0010-cpu-per-event.md, "Append tail latency"). Prints one JSON line,
 * `{ "p99": ms }`.
 *
 * Usage: `node w1-cold-child.js <dir> <appends> strand|raw`
 *
 * @module
 */
import { percentile } from './figure.js';
import { w1Raw, w1Strand } from './w1.js';

const [dir, count, arm] = process.argv.slice(2);
const n = Number(count);
if (!dir || !Number.isSafeInteger(n) || n <= 0 || (arm !== 'strand' && arm !== 'raw')) throw new Error('usage: w1-cold-child <dir> <appends> strand|raw');
const lat = arm === 'strand' ? await w1Strand(dir, n) : await w1Raw(dir, n);
process.stdout.write(`${JSON.stringify({ p99: percentile(lat, 99) })}\n`);
