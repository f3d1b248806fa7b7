/**
 * What `strand append` writes, read from its options once for the local log and `--server` alike.
 *
 * @module
 */
import type { EventInput, ExpectedVersion } from '@strand/core';
import { ExitCode, type Output } from './output.js';

/** The event and expected version `strand append` gives, from its options (exit 1 when `--data` is not JSON); local or `--server`. */
export function appendInput(out: Output, opts: { type: string; data: string; expect: string; id?: string }): { event: EventInput; expectedVersion: ExpectedVersion } {
  let data: unknown;
  try {
    data = JSON.parse(opts.data);
  } catch {
    out.fail(ExitCode.usage, 'STRAND_INVALID_EVENT', `--data is not valid JSON: ${opts.data}`);
  }
  const expectedVersion: ExpectedVersion = /^\d+$/.test(opts.expect) ? Number(opts.expect) : (opts.expect as ExpectedVersion);
  return { event: { type: opts.type, data, ...(opts.id ? { id: opts.id } : {}) }, expectedVersion };
}
