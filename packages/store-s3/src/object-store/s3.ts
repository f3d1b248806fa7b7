/**
 * The AWS SDK v3 implementation of {@link ObjectStore}: AWS S3, MinIO, R2, Ceph RGW.
 *
 * @module
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './types.js';
import { ObjectStoreError, PreconditionFailedError, unquoteEtag } from './types.js';

/** Where the bucket is and how to reach it. Unset fields follow the AWS SDK's defaults. */
export interface S3ObjectStoreOptions {
  /** Bucket name. */
  bucket: string;
  /** Region (default: the SDK's chain, `AWS_REGION`, else `us-east-1`). */
  region?: string;
  /** Endpoint URL for S3-compatible stores (MinIO, R2, RGW), e.g. `http://127.0.0.1:7480`. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); needed by most S3-compatible stores (default: true when `endpoint` is set). */
  forcePathStyle?: boolean;
  /** Static credentials; default: the SDK's credential chain (env, profile, SSO, IMDS...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-request timeout in ms (default 30,000). */
  requestTimeoutMs?: number;
  /** Maximum parallel connections (default 64). */
  maxSockets?: number;
  /** Extra SDK client configuration, merged last. */
  clientConfig?: Partial<S3ClientConfig>;
}

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  message?: string;
}

/**
 * An {@link ObjectStore} over `@aws-sdk/client-s3`. The SDK's own retries are off (the engine's
 * `RetryingObjectStore` decides, knowing which PUTs are conditional) and checksums are computed
 * only when required, which S3-compatible stores such as RGW 16 need.
 */
export class S3ObjectStore implements ObjectStore {
  /** The SDK client (shared by all requests of this store). */
  readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    const config: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
      requestHandler: {
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        connectionTimeout: 5_000,
        httpAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
        httpsAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
      },
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...options.clientConfig,
    };
    this.client = new S3Client(config);
  }

  /** Closes the SDK's sockets. */
  destroy(): void {
    this.client.destroy();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toStoreError(err, 'GET', key, false);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    if (end <= start) return new Uint8Array(0);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
      );
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toStoreError(err, 'GET', key, false);
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    try {
      const res = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.byteLength,
          ...(options.ifNoneMatch !== undefined ? { IfNoneMatch: options.ifNoneMatch } : {}),
          // RGW compares the raw header: it only matches an unquoted ETag.
          ...(options.ifMatch !== undefined ? { IfMatch: unquoteEtag(options.ifMatch) } : {}),
        }),
      );
      return { etag: unquoteEtag(res.ETag ?? '') };
    } catch (err) {
      const e = err as SdkError;
      const status = e.$metadata?.httpStatusCode;
      if (status === 412 || e.name === 'PreconditionFailed' || (status === 409 && e.name === 'ConditionalRequestConflict')) {
        throw new PreconditionFailedError(key);
      }
      throw toStoreError(err, 'PUT', key, true);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw toStoreError(err, 'DELETE', key, false);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ...(token === undefined && options.startAfter !== undefined ? { StartAfter: options.startAfter } : {}),
            ...(token !== undefined ? { ContinuationToken: token } : {}),
            ...(options.limit !== undefined ? { MaxKeys: Math.min(1000, options.limit - out.length) } : {}),
          }),
        );
        for (const o of res.Contents ?? []) {
          if (o.Key === undefined) continue;
          out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token !== undefined && (options.limit === undefined || out.length < options.limit));
    } catch (err) {
      throw toStoreError(err, 'LIST', prefix, false);
    }
    return out;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as SdkError;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

function toStoreError(err: unknown, op: string, key: string, isWrite: boolean): ObjectStoreError {
  const e = err as SdkError;
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.name ?? e?.code ?? 'Error';
  const throttled = status === 429 || status === 503 || /SlowDown|Throttl|RequestLimitExceeded/.test(name);
  const network =
    status === undefined &&
    /Timeout|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|NetworkingError|AbortError/i.test(
      `${name} ${e?.code ?? ''} ${e?.message ?? ''}`,
    );
  const retryable = throttled || (status !== undefined && status >= 500) || network || status === 408;
  return new ObjectStoreError(`${op} ${key} failed: ${name}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? ''}`, {
    code: 'STRAND_S3_REQUEST_FAILED',
    ...(status !== undefined ? { status } : {}),
    retryable,
    // A write that failed without a clean 4xx may have been applied.
    outcomeUnknown: isWrite && retryable && !throttled,
    cause: err,
  });
}
