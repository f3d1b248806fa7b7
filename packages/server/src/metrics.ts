/**
 * Prometheus metrics of the server: requests and latencies per method and code, open
 * subscriptions and connections; with tenants, their usage (`TenantManager.metrics()`) too.
 *
 * @module
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

// src/ (tests) and dist/ both sit one level below the package root.
/** The server package's version (`strand_server_info`, `GetStoreInfo`). */
export const SERVER_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The server's own metrics. */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'strand_server_requests_total', help: 'RPCs handled, by method and result code.', labelNames: ['method', 'code'], registers: [this.registry] });
  private readonly latency = new Histogram({
    name: 'strand_server_request_duration_seconds',
    help: 'RPC latency by method (for server streams: until the stream ends).',
    labelNames: ['method'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  /** Open subscriptions (RPC and SSE). */
  readonly subscriptions = new Gauge({ name: 'strand_server_subscriptions_open', help: 'Subscriptions open now.', registers: [this.registry] });
  /** Open client connections. */
  readonly connections = new Gauge({ name: 'strand_server_connections_open', help: 'Client connections open now.', registers: [this.registry] });

  /** The server's version (`strand_server_info{version}` is 1), e.g. for the console's overview. */
  readonly info = new Gauge({ name: 'strand_server_info', help: 'The server: its version as a label; the value is 1.', labelNames: ['version'], registers: [this.registry] });

  constructor() {
    this.info.set({ version: SERVER_VERSION }, 1);
  }

  /** Counts and times one call that began at `start` (`process.hrtime.bigint()`) and ended with `code`. */
  observe(method: string, code: string, start: bigint): void {
    this.requests.inc({ method, code });
    this.latency.observe({ method }, Number(process.hrtime.bigint() - start) / 1e9);
  }

  /** A Connect interceptor that counts and times every call. */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const method = req.method.name;
      const start = process.hrtime.bigint();
      const done = (code: string) => this.observe(method, code, start);
      try {
        const res = await next(req);
        if (!res.stream) {
          done('ok');
          return res;
        }
        const inner = res.message;
        const self = this;
        return {
          ...res,
          message: (async function* () {
            self.subscriptions.inc();
            try {
              yield* inner;
              done('ok');
            } catch (error) {
              done(Code[ConnectError.from(error).code] ?? 'unknown');
              throw error;
            } finally {
              self.subscriptions.dec();
            }
          })(),
        };
      } catch (error) {
        done(Code[ConnectError.from(error).code] ?? 'unknown');
        throw error;
      }
    };
  }
}
