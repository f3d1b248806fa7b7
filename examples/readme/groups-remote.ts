/**
 * README snippet "Consumer groups: members through strand serve".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import type { RecordedEvent } from '@strand/core';

/** The application's handler. */
declare function bill(events: readonly RecordedEvent[]): Promise<void>;

// #region readme
import { connect } from '@strand/client';
const client = connect({ url: 'http://127.0.0.1:7070', apiKey: process.env.STRAND_API_KEY! });
const member = await client.joinGroup('billing', async (d) => bill(d.events), { pattern: 'orders/>', credits: 16 });
await client.parkedStreams('billing');            // also retryParked / skipParked
// #endregion readme

export { member };
