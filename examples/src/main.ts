/**
 * The example `npm start` runs: a small bank on the embedded log in `./data` (or `STRAND_PATH`).
 * Opens accounts, moves money between them with a multi-stream atomic append guarded by expected
 * versions, follows everything under `bank/>` with a pattern subscription, and prints an account
 * of what happened; then a shop whose orders reserve stock through a workflow with a payment
 * deadline. Run it twice: the second run continues where the first stopped.
 *
 * @module
 */
import { isStrandError, openLog } from '@strand/core';
import { destination, pino } from 'pino';
import { runBank } from './bank/run.js';
import { runShop } from './shop/run.js';

const path = process.env.STRAND_PATH ?? './data';
// Structured logs (JSON lines) on stderr; STRAND_LOG_LEVEL=debug shows every commit group.
const logger = pino({ name: 'strand-example', level: process.env.STRAND_LOG_LEVEL ?? 'warn' }, destination(2));
const log = await openLog({ path, logger });
try {
  const report = await runBank(log, logger);
  for (const line of report) process.stdout.write(`${line}\n`);
  process.stdout.write('\n');
  for (const line of await runShop(log, logger)) process.stdout.write(`${line}\n`);
} catch (error) {
  if (isStrandError(error)) process.stderr.write(`strand: ${error.code}: ${error.message}\n`);
  throw error;
} finally {
  await log.close();
}
