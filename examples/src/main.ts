/**
 * The example `npm start` runs: a small bank on the embedded log in `./data` (or `STRAND_PATH`).
 * Opens accounts, moves money between them with a multi-stream atomic append guarded by expected
 * versions, follows everything under `bank/>` with a pattern subscription, and prints an account
 * of what happened. Run it twice: the second run continues where the first stopped.
 *
 * @module
 */
import { isStrandError, openLog } from '@strand/core';
import { runBank } from './bank/run.js';

const path = process.env.STRAND_PATH ?? './data';
const log = await openLog({ path });
try {
  const report = await runBank(log);
  for (const line of report) process.stdout.write(`${line}\n`);
} catch (error) {
  if (isStrandError(error)) process.stderr.write(`strand: ${error.code}: ${error.message}\n`);
  throw error;
} finally {
  await log.close();
}
