/**
 * README snippet "Errors".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import { type EventInput, type EventLog, isStrandError } from '@strand/core';

declare const log: EventLog;
declare const events: EventInput[];

// #region readme
try {
  await log.append('accounts/acme/acct-7', events, { expectedVersion: 7 });
} catch (error) {
  if (isStrandError(error, 'STRAND_WRONG_EXPECTED_VERSION')) {
    // error.expected === 7, error.actual === the stream's real version: reload, decide again.
  }
}
// #endregion readme
