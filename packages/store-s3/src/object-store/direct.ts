/**
 * PUTs and GETs without the AWS SDK's middleware stack: SigV4-signed requests
 * (`@smithy/signature-v4`, the SDK's own signer) on a keep-alive `node:http(s)` agent. The WAL
 * makes one PUT per group commit, and its latency is the writer's commit latency. Measured against
 * Ceph RGW on loopback (20 KB bodies, one at a time, `node scripts/s3/put-latency.mjs`): the SDK's
 * `send` costs 1.4-1.5 ms of CPU and 2.6 ms per PUT; this path 0.33-0.43 ms of CPU and 1.6-1.8 ms.
 * GETs are what a reopen's replay and a follower's polls are made of (a follower's poll is mostly
 * a GET answered 404, which the SDK turns into a parsed XML error and an exception); a reopen's
 * profile on a loaded machine had half of its CPU in the SDK's request and response handling.
 *
 * Everything that needs the SDK's knowledge stays with the SDK: the endpoint comes from the
 * client's endpoint rules (virtual-hosted or path style, FIPS, dual-stack), credentials and
 * region from its provider chain (with their caching and refresh). Endpoints that need another
 * signer (S3 Express, multi-region access points) make {@link DirectRequests.create} return
 * `undefined`, and the store keeps using the SDK for them. LIST and DELETE stay on the SDK.
 *
 * @module
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** RFC 3986 escaping, as SigV4 wants it (encodeURIComponent leaves `!'()*` alone). */
function escapeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${(c.codePointAt(0) as number).toString(16).toUpperCase()}`);
}

/** node:crypto behind the `Checksum` interface the signer wants. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    throw new Error('NodeSha256 is single-use');
  }
}

/** What a finished request returned. */
export interface DirectResponse {
  status: number;
  etag: string | undefined;
  /** The body of a successful GET (empty otherwise). */
  body: Buffer;
  /** The `Date` header (the server's clock), ms since the epoch, when there was one. */
  date: number | undefined;
  /** The `<Code>` of an S3 error body, when there was one. */
  errorCode: string | undefined;
  /** The `<Message>` of an S3 error body. */
  errorMessage: string | undefined;
}

/** A failure before any HTTP status arrived (connection, timeout). */
export class DirectRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DirectRequestError';
  }
}

interface Target {
  base: URL;
  signer: SignatureV4;
}

/** SHA-256 of an empty payload (a GET's), hex. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Signed PUTs and GETs to one bucket. */
export class DirectRequests {
  private constructor(
    private readonly target: Target,
    private readonly agent: http.Agent,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Resolves the bucket's endpoint through the client's rules; `undefined` when the endpoint
   * needs anything but plain SigV4 (then the SDK path is used).
   */
  static async create(
    client: S3Client,
    bucket: string,
    options: { timeoutMs: number; maxSockets: number },
  ): Promise<DirectRequests | undefined> {
    const cfg = client.config;
    const region = await cfg.region();
    const endpoint = await cfg.endpoint?.();
    const resolved = cfg.endpointProvider({
      Bucket: bucket,
      Region: region,
      UseFIPS: await cfg.useFipsEndpoint(),
      UseDualStack: await cfg.useDualstackEndpoint(),
      ForcePathStyle: cfg.forcePathStyle,
      Accelerate: cfg.useAccelerateEndpoint,
      ...(endpoint
        ? { Endpoint: `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path}` }
        : {}),
    });
    const schemes = resolved.properties?.authSchemes as { name?: string; signingRegion?: string; signingName?: string }[] | undefined;
    const scheme = schemes?.[0];
    if (scheme && scheme.name !== 'sigv4') return undefined;
    const base = new URL(resolved.url.href);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined;
    const signer = new SignatureV4({
      service: scheme?.signingName ?? 's3',
      region: scheme?.signingRegion ?? region,
      credentials: cfg.credentials,
      sha256: NodeSha256,
      // S3 signs the path as sent (already escaped once), unlike other services.
      uriEscapePath: false,
      applyChecksum: false,
    });
    const Agent = base.protocol === 'https:' ? https.Agent : http.Agent;
    const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
    return new DirectRequests({ base, signer }, agent, options.timeoutMs);
  }

  /** PUTs `body` at `key`; resolves with the response, whatever its status. */
  put(key: string, body: Uint8Array, headers: Record<string, string>): Promise<DirectResponse> {
    return this.request('PUT', key, body, {
      'content-length': String(body.byteLength),
      // The payload hash is signed: a body damaged on the way is rejected, not stored.
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      ...headers,
    });
  }

  /**
   * GETs `key`, or bytes `[start, end)` of it; resolves with the response, whatever its status
   * (the body only on a 2xx).
   */
  get(key: string, range?: { start: number; end: number }): Promise<DirectResponse> {
    return this.request('GET', key, undefined, {
      'x-amz-content-sha256': EMPTY_SHA256,
      ...(range ? { range: `bytes=${range.start}-${range.end - 1}` } : {}),
    });
  }

  private async request(method: 'PUT' | 'GET', key: string, body: Uint8Array | undefined, headers: Record<string, string>): Promise<DirectResponse> {
    const { base, signer } = this.target;
    const dir = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
    const path = dir + key.split('/').map(escapeSegment).join('/');
    const signed = await signer.sign({
      method,
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query: {},
      headers: { host: base.host, ...headers },
      // No body: the signer takes the payload hash from the header instead of hashing again.
    });
    const transport = base.protocol === 'https:' ? https : http;
    return new Promise<DirectResponse>((resolve, reject) => {
      const req = transport.request(
        { agent: this.agent, method, hostname: base.hostname, port: base.port || undefined, path, headers: signed.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new DirectRequestError(`${method} ${key}: ${err.message}`, 'ECONNRESET', { cause: err })));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            // A copy of its own even for one chunk: a chunk may be a view of a larger buffer.
            const all = Buffer.concat(chunks);
            const ok = status >= 200 && status < 300;
            const text = ok ? '' : all.toString('utf8');
            const etag = res.headers.etag;
            const date = res.headers.date === undefined ? Number.NaN : Date.parse(res.headers.date);
            resolve({
              status,
              etag: typeof etag === 'string' ? etag : undefined,
              body: ok ? all : Buffer.alloc(0),
              date: Number.isNaN(date) ? undefined : date,
              errorCode: /<Code>([^<]*)<\/Code>/.exec(text)?.[1],
              errorMessage: /<Message>([^<]*)<\/Message>/.exec(text)?.[1],
            });
          });
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new DirectRequestError(`${method} ${key} timed out after ${this.timeoutMs} ms`, 'TimeoutError')));
      req.on('error', (err) => reject(err instanceof DirectRequestError ? err : new DirectRequestError(`${method} ${key}: ${err.message}`, (err as NodeJS.ErrnoException).code ?? 'NetworkingError', { cause: err })));
      req.end(body);
    });
  }

  /** Closes idle sockets. */
  destroy(): void {
    this.agent.destroy();
  }
}
