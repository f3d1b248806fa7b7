/**
 * `@strand/core/export`: events of registered types to Parquet files, for analytics. A subpath of
 * its own so that only apps that export load the Parquet writer (`hyparquet-writer`, an optional
 * peer dependency of `@strand/core`: install it beside core to use this entry).
 *
 * @packageDocumentation
 */
export { exportParquet } from './schema/export.js';
export type { ExportedFile, ExportOptions, ExportResult } from './schema/export.js';
