/**
 * The 1,000,000-streams workload in a process of its own, so its peak RSS is the workload's and not
 * what earlier bench sections left in the parent's heap. Prints one JSON line with the figures.
 *
 * Usage: `node streams1m-child.js <dir> <streams>`
 *
 * @module
 */
import { openLog } from '@strand/core';
import { payload, pool } from './figure.js';

const [dir, count] = process.argv.slice(2);
const n = Number(count);
if (!dir || !Number.isSafeInteger(n) || n <= 0) throw new Error('usage: streams1m-child <dir> <streams>');
const baseline = process.resourceUsage().maxRSS;
const log = await openLog({ path: dir });
const ms = await pool(n, 256, (i) => log.append(`tenants/t-${i % 100}/entity-${i}`, [{ type: 'Created', data: payload(i) }], { expectedVersion: 'no_stream' }));
if (log.position !== n) throw new Error(`expected ${n} events, log is at ${log.position}`);
await log.close();
// maxRSS is the kernel's high-water mark in KiB: no sampling can miss the peak.
process.stdout.write(`${JSON.stringify({ ms, peakMb: process.resourceUsage().maxRSS / 1024, baselineMb: baseline / 1024 })}\n`);
