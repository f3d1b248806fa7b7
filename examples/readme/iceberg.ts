/**
 * README snippet "Iceberg tables, continuously and exactly once".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import type { SchemaRegistry } from '@strand/core';

declare const registry: SchemaRegistry;

// #region readme
import { IcebergSink, compactTable, expireSnapshots, exportIceberg } from '@strand/iceberg';

await exportIceberg(registry, { types: ['OrderPlaced'], table: './warehouse/orders' });   // or 's3://lake/orders/'
const sink = new IcebergSink(registry, { types: ['OrderPlaced'], table: './warehouse/orders', commitEvery: 10_000, commitIntervalMs: 5_000 });
await sink.start();                                          // follows the log, one snapshot per commit
await compactTable('./warehouse/orders');                    // small files and manifests into few
await expireSnapshots('./warehouse/orders', { olderThanMs: 86_400_000 });
// #endregion readme
