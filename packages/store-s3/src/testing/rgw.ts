/**
 * The real S3 server for integration tests: a throw-away Ceph RADOS Gateway on loopback,
 * installed and started by `scripts/s3/ensure-rgw.sh` (idempotent) once per process.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../object-store/s3.js';

/** How to reach the test server. */
export interface RgwEnv {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  region: string;
}

let started: Promise<RgwEnv> | undefined;

/** Path of the script that installs and starts the server. */
export const ENSURE_RGW_SCRIPT = fileURLToPath(new URL('../../../../scripts/s3/ensure-rgw.sh', import.meta.url));

/**
 * Makes sure the test RGW runs and returns its address and credentials. When `S3_ENDPOINT` and
 * friends are already set (a global setup started it, or a developer points at another server),
 * they are used as they are. Fails loudly when the server cannot be installed or started:
 * integration tests must not silently pass without it.
 */
export function ensureRgw(): Promise<RgwEnv> {
  started ??= start();
  return started;
}

function fromEnv(env: Record<string, string | undefined>): RgwEnv | undefined {
  const { S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, S3_BUCKET } = env;
  if (!S3_ENDPOINT || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY || !S3_BUCKET) return undefined;
  return {
    endpoint: S3_ENDPOINT,
    accessKeyId: AWS_ACCESS_KEY_ID,
    secretAccessKey: AWS_SECRET_ACCESS_KEY,
    bucket: S3_BUCKET,
    region: env.AWS_REGION ?? 'us-east-1',
  };
}

async function start(): Promise<RgwEnv> {
  const given = fromEnv(process.env);
  if (given) return given;
  const out = await new Promise<string>((resolve, reject) => {
    execFile('bash', [ENSURE_RGW_SCRIPT], { timeout: 15 * 60 * 1000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new Error(
            `The store-s3 integration tests need a local Ceph RGW, and ${ENSURE_RGW_SCRIPT} could not provide one ` +
              `(exit ${String((err as { code?: unknown }).code)}). Install it with: apt-get install -y --no-install-recommends ` +
              `radosgw ceph-mon ceph-osd ceph-common curl uuid-runtime, or set S3_ENDPOINT, AWS_ACCESS_KEY_ID, ` +
              `AWS_SECRET_ACCESS_KEY and S3_BUCKET to another S3-compatible server with conditional writes.\n${stderr}`,
          ),
        );
      } else resolve(stdout);
    });
  });
  const env: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1] as string] = m[2] as string;
  }
  const parsed = fromEnv(env);
  if (!parsed) throw new Error(`ensure-rgw.sh printed no S3 settings:\n${out}`);
  return parsed;
}

/** Options of an {@link S3ObjectStore} on the test server. */
export function rgwOptions(env: RgwEnv): S3ObjectStoreOptions {
  return {
    bucket: env.bucket,
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
  };
}

/** An {@link S3ObjectStore} on the local server. */
export function rgwStore(env: RgwEnv): S3ObjectStore {
  return new S3ObjectStore(rgwOptions(env));
}

/** A key prefix no other test uses: `tests/<name>/<random>/`. */
export function uniquePrefix(name: string): string {
  return `tests/${name.replace(/[^a-zA-Z0-9_-]/g, '-')}/${Date.now().toString(36)}-${randomBytes(4).toString('hex')}/`;
}
