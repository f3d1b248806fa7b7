/**
 * README snippet "S3: an LSM tree on object storage".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
// Self-contained: the log opens on its own bucket.

// #region readme
import { openS3Log, S3ObjectStore } from '@strand/store-s3';

// AWS S3 with the SDK's credential chain; MinIO / R2 / RGW: add ?endpoint=http://localhost:9000&region=us-east-1
const { log, level } = await openS3Log('s3://my-bucket/logs/orders/?region=eu-west-1');
level.engineStats;                                            // WAL PUTs, flushes, compactions
// Explicit credentials, your own object store, engine options:
// openS3Log(url, { credentials: { accessKeyId, secretAccessKey }, engine: { walPutsInFlight: 4 } })
// openS3Log(url, { objectStore: new S3ObjectStore({ bucket, endpoint, forcePathStyle: true }) })
// #endregion readme
