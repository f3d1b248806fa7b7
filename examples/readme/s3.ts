/**
 * README, "S3: an LSM tree on object storage": the region below is the README's code block, character for character
 * (test/docs/readme-snippets.test.ts checks it; `npm run readme` copies the regions into the
 * README). What is outside the region gives it the context the README's text gives it.
 */
// Self-contained: the log opens on its own bucket.

// #region readme
import { EventLog } from '@strand/core';
import { S3Level, S3ObjectStore } from '@strand/store-s3';

const store = new S3ObjectStore({ bucket: 'my-bucket', region: 'eu-west-1' });   // AWS credential chain
// MinIO / R2 / RGW: new S3ObjectStore({ bucket, endpoint: 'http://localhost:9000', forcePathStyle: true, region: 'us-east-1' })
const log = await EventLog.open({ store: new S3Level({ store, prefix: 'logs/orders/' }), ownsStore: true });
// #endregion readme
