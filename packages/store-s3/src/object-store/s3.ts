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
import { DirectRequestError, DirectRequests } from './direct.js';
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
  /**
   * PUT through a signed `node:http` request instead of the SDK's middleware stack (default
   * true): a third of the CPU and ~1 ms less latency per PUT, which is the WAL's commit latency.
   * Endpoint, region and credentials still come from the SDK client. Set false to send every
   * PUT through the SDK (e.g. with `clientConfig` middleware of your own).
   */
  directPut?: boolean;
  /**
   * GET through a signed `node:http` request instead of the SDK's middleware stack (default
   * true), like `directPut`: a reopen's replay and a follower's polls are GETs, most of a
   * follower's answered 404. Set false to send every GET through the SDK.
   */
  directGet?: boolean;
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
  /** Settings of the direct request path. */
  private readonly directSettings: { timeoutMs: number; maxSockets: number };
  /** Which requests take the direct path (when the endpoint allows it). */
  private readonly directFor: { put: boolean; get: boolean };
  /** The direct request path, resolved on first use (`undefined` inside: the endpoint needs the SDK). */
  private direct: Promise<DirectRequests | undefined> | undefined;
  private lastServerTime: number | undefined;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.directSettings = { timeoutMs: options.requestTimeoutMs ?? 30_000, maxSockets: options.maxSockets ?? 64 };
    this.directFor = { put: options.directPut ?? true, get: options.directGet ?? true };
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
    // The server's clock, from each response's Date header: GC ages objects by it.
    this.client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const date = (out.response as { headers?: Record<string, string | undefined> } | undefined)?.headers?.date;
        const t = date === undefined ? Number.NaN : Date.parse(date);
        if (!Number.isNaN(t)) this.lastServerTime = t;
        return out;
      },
      { step: 'deserialize', name: 'strandServerTime' },
    );
  }

  /** The server's clock at its last SDK response (`Date` header; 1 s resolution), ms. */
  serverTime(): number | undefined {
    return this.lastServerTime;
  }

  /** Closes the SDK's sockets (and the direct path's). */
  destroy(): void {
    this.client.destroy();
    void this.direct?.then((d) => d?.destroy());
  }

  /** The direct path for `kind` requests, or undefined: the SDK does them. */
  private directPath(kind: 'put' | 'get'): Promise<DirectRequests | undefined> | undefined {
    if (!this.directFor[kind]) return undefined;
    // An endpoint the SDK cannot resolve up front is left to the SDK, which reports it properly.
    this.direct ??= DirectRequests.create(this.client, this.bucket, this.directSettings).catch(() => undefined);
    return this.direct;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const direct = await this.directPath('get');
    if (direct) return this.getDirect(direct, key, undefined);
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
    const direct = await this.directPath('get');
    if (direct) return this.getDirect(direct, key, { start, end });
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

  private async getDirect(direct: DirectRequests, key: string, range: { start: number; end: number } | undefined): Promise<Uint8Array | undefined> {
    let res: Awaited<ReturnType<DirectRequests['get']>>;
    try {
      res = await direct.get(key, range);
    } catch (err) {
      const name = err instanceof DirectRequestError ? err.code : 'NetworkingError';
      throw classify({ status: undefined, name, message: (err as Error).message }, 'GET', key, false, err);
    }
    if (res.date !== undefined) this.lastServerTime = res.date;
    if (res.status >= 200 && res.status < 300) return res.body;
    if (res.status === 404) return undefined; // the SDK path's isNotFound: any 404
    throw classify({ status: res.status, name: res.errorCode ?? `HTTP${res.status}`, message: res.errorMessage ?? '' }, 'GET', key, false, undefined);
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const direct = await this.directPath('put');
    if (direct) return this.putDirect(direct, key, body, options);
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
      throw putError(key, { status: e.$metadata?.httpStatusCode, name: e.name ?? e.code ?? 'Error', message: e.message }, err);
    }
  }

  private async putDirect(direct: DirectRequests, key: string, body: Uint8Array, options: PutOptions): Promise<PutResult> {
    const headers: Record<string, string> = {};
    if (options.ifNoneMatch !== undefined) headers['if-none-match'] = options.ifNoneMatch;
    if (options.ifMatch !== undefined) headers['if-match'] = unquoteEtag(options.ifMatch);
    let res: Awaited<ReturnType<DirectRequests['put']>>;
    try {
      res = await direct.put(key, body, headers);
    } catch (err) {
      const name = err instanceof DirectRequestError ? err.code : 'NetworkingError';
      throw putError(key, { status: undefined, name, message: (err as Error).message }, err);
    }
    if (res.date !== undefined) this.lastServerTime = res.date;
    if (res.status >= 200 && res.status < 300) return { etag: unquoteEtag(res.etag ?? '') };
    throw putError(key, { status: res.status, name: res.errorCode ?? `HTTP${res.status}`, message: res.errorMessage ?? '' }, undefined);
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

/** What the SDK or a direct request said about a failure. */
interface FailureInfo {
  status: number | undefined;
  /** The S3 error code or error class name, e.g. `SlowDown`, `TimeoutError`. */
  name: string;
  /** A system error code, e.g. `ECONNRESET`, when there is one besides the name. */
  code?: string | undefined;
  message: string | undefined;
}

function putError(key: string, f: FailureInfo, cause: unknown): ObjectStoreError {
  if (f.status === 412 || f.name === 'PreconditionFailed' || (f.status === 409 && f.name === 'ConditionalRequestConflict')) {
    return new PreconditionFailedError(key);
  }
  return classify(f, 'PUT', key, true, cause);
}

function toStoreError(err: unknown, op: string, key: string, isWrite: boolean): ObjectStoreError {
  const e = err as SdkError;
  const status = e?.$metadata?.httpStatusCode;
  return classify({ status, name: e?.name ?? e?.code ?? 'Error', code: e?.code, message: e?.message }, op, key, isWrite, err);
}

function classify(f: FailureInfo, op: string, key: string, isWrite: boolean, cause: unknown): ObjectStoreError {
  const { status, name } = f;
  const throttled = status === 429 || status === 503 || /SlowDown|Throttl|RequestLimitExceeded/.test(name);
  const network =
    status === undefined &&
    /Timeout|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|NetworkingError|AbortError/i.test(`${name} ${f.code ?? ''} ${f.message ?? ''}`);
  const retryable = throttled || (status !== undefined && status >= 500) || network || status === 408;
  return new ObjectStoreError(`${op} ${key} failed: ${name}${status ? ` (HTTP ${status})` : ''}: ${f.message ?? ''}`, {
    code: 'STRAND_S3_REQUEST_FAILED',
    ...(status !== undefined ? { status } : {}),
    retryable,
    // A write that failed without a clean 4xx may have been applied, unless the connection was
    // refused (nothing was sent).
    outcomeUnknown: isWrite && retryable && !throttled && !/ECONNREFUSED/.test(`${name} ${f.code ?? ''} ${f.message ?? ''}`),
    ...(cause !== undefined ? { cause } : {}),
  });
}
