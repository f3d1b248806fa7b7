import { runLogConformance } from '@strand/core/testing';
import { afterAll, beforeAll, it } from 'vitest';
import type { S3ObjectStore } from './object-store/s3.js';
import { S3Level } from './s3-level.js';
import { ensureRgw, rgwStore, uniquePrefix } from './testing/rgw.js';
import { s3LogDefaults } from './url.js';

// Strand's event-log conformance suite on S3Level over a real S3 server (Ceph RGW), with the
// commit pipeline openS3Log uses.
let store: S3ObjectStore | undefined;
const base = uniquePrefix('conformance');
let n = 0;

beforeAll(async () => {
  store = rgwStore(await ensureRgw());
}, 900_000);
afterAll(() => store?.destroy());

runLogConformance({
  name: 'S3Level on RGW',
  test: it,
  logOptions: s3LogDefaults,
  factory: async () => {
    store ??= rgwStore(await ensureRgw());
    return new S3Level({ store, prefix: `${base}db-${n++}/`, flushIntervalMs: 5, keyEncoding: 'view', valueEncoding: 'view' });
  },
});
