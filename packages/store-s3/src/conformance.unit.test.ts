import { runLogConformance } from '@strand/core/testing';
import { it } from 'vitest';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';
import { s3LogDefaults } from './url.js';

// Strand's event-log conformance suite on S3Level over the in-memory object store, with the
// commit pipeline openS3Log uses: the engine's behaviour without a server (conformance.int.test.ts
// runs the same suite on RGW).
runLogConformance({
  name: 'S3Level on the in-memory store',
  test: it,
  logOptions: s3LogDefaults,
  factory: async () =>
    new S3Level({ store: new InMemoryObjectStore(), flushIntervalMs: 0, memtableBytes: 64 * 1024, keyEncoding: 'view', valueEncoding: 'view' }),
});
