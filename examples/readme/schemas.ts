/**
 * README snippet "Schemas: validated on append, versioned, upcast on read".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import type { EventLog } from '@strand/core';
import { z } from 'zod';

declare const log: EventLog;

// #region readme
import { SchemaRegistry } from '@strand/core';
import { exportParquet } from '@strand/core/export';        // needs hyparquet-writer installed

const registry = await SchemaRegistry.open(log);            // stored in the log's own store
const Placed = await registry.register('OrderPlaced', 1, z.object({ orderId: z.string(), total: z.number() }));
await registry.register('OrderPlaced', 2, z.object({ orderId: z.string(), total: z.number(), currency: z.string().optional() }));
await registry.bind('orders/>', ['OrderPlaced']);           // orders/> accepts only order events

await log.append('orders/eu/o-1', [Placed.event({ orderId: 'o-1', total: 42 })]);
// Bad data: STRAND_SCHEMA_VALIDATION listing each zod issue with its path; nothing written.
// An incompatible v3 (a removed or newly required field...) is refused with the reasons,
// unless registered with an upcaster: register('OrderPlaced', 3, V3, { upcast: (v2) => ... }).
// Readers always receive the latest version; each event records the version it was written with.

await exportParquet(registry, { types: ['OrderPlaced'], dir: './parquet', name: 'bi' });  // incremental
// #endregion readme
