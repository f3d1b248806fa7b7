/**
 * `strand serve`: the log (or a tenant registry) as a network service. Design:
 * docs/design/0013-server.md.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { serveConsole } from '@strand/console';
import { startDemo } from './demo.js';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type EventLog, InvalidArgumentError } from '@strand/core';
import { dirSize } from '@strand/core/testing';
import { TenantManager } from '@strand/core/tenancy';
import { createServer, type HostedGroupOptions, type ServerLimits, type StrandServer } from '@strand/server';
import { type CompiledProjection, ProjectionRunner } from '@strand/projections';
import { ClassicLevel } from 'classic-level';

/** Options of `strand serve`, as commander parses them. */
export interface ServeOptions {
  port: string;
  host: string;
  apiKey?: string;
  adminKey?: string;
  tenants?: boolean;
  demo?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  maxRequestBytes?: string;
  maxEventsPerAppend?: string;
  maxStreamsPerConnection?: string;
  maxConnectionsPerTenant?: string;
  requestTimeout?: string;
  heartbeat?: string;
  stallTimeout?: string;
  groupSessionTimeout?: string;
  groupMaxAttempts?: string;
  groupBackoff?: string;
  projections?: string;
}

function integer(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`--${name} must be an integer >= 1; got ${JSON.stringify(v)}.`);
  return n;
}

/** Every projection a module exports (results of `defineProjection`). */
async function projectionsIn(file: string): Promise<CompiledProjection[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolvePath(file)).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new InvalidArgumentError(`Cannot load --projections ${file}: ${(cause as Error).message}. Give the built JavaScript file that exports the projections.`);
  }
  const found = Object.values(mod).filter((v): v is CompiledProjection => v !== null && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string' && 'handlers' in v);
  if (found.length === 0) throw new InvalidArgumentError(`${file} exports no projection (a defineProjection result).`);
  return found;
}

/**
 * Runs the server until SIGTERM or SIGINT, then shuts down gracefully: stop accepting, end
 * subscriptions with a resume cursor, finish appends in flight, close the log.
 */
export async function serve(path: string, openLog: () => Promise<EventLog>, opts: ServeOptions, json: boolean): Promise<void> {
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const limits: ServerLimits = {};
  const set = (key: keyof ServerLimits, flag: string, v: string | undefined) => {
    const n = integer(flag, v);
    if (n !== undefined) limits[key] = n;
  };
  set('requestBytes', 'max-request-bytes', opts.maxRequestBytes);
  set('eventsPerAppend', 'max-events-per-append', opts.maxEventsPerAppend);
  set('streamsPerConnection', 'max-streams-per-connection', opts.maxStreamsPerConnection);
  set('connectionsPerTenant', 'max-connections-per-tenant', opts.maxConnectionsPerTenant);
  set('requestTimeoutMs', 'request-timeout', opts.requestTimeout);
  set('heartbeatMs', 'heartbeat', opts.heartbeat);
  set('subscriberStallMs', 'stall-timeout', opts.stallTimeout);
  const groups: HostedGroupOptions = {};
  const sessionTimeoutMs = integer('group-session-timeout', opts.groupSessionTimeout);
  const maxAttempts = integer('group-max-attempts', opts.groupMaxAttempts);
  const backoffMs = integer('group-backoff', opts.groupBackoff);
  if (sessionTimeoutMs !== undefined) groups.sessionTimeoutMs = sessionTimeoutMs;
  if (maxAttempts !== undefined) groups.maxAttempts = maxAttempts;
  if (backoffMs !== undefined) groups.backoffMs = backoffMs;
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`--port must be 0..65535; got ${JSON.stringify(opts.port)}.`);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new InvalidArgumentError('--tls-cert and --tls-key go together.');
  const tls = opts.tlsCert === undefined ? undefined : { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey!) };
  const apiKey = opts.apiKey ?? process.env.STRAND_API_KEY;
  const adminKey = opts.adminKey ?? process.env.STRAND_ADMIN_KEY;
  // The web console (packages/console) at /ui: static files that talk to this server's API.
  const routes = { '/ui': serveConsole() };
  let server: StrandServer;
  let closeStore: () => Promise<void>;
  let stopDemo: (() => void) | undefined;
  let demoRefused = false;
  if (opts.tenants) {
    if (opts.projections !== undefined) throw new InvalidArgumentError('--projections hosts projections of one log; with --tenants, embed the server (createServer({ tenants, projections })).');
    if (path.startsWith('s3://')) throw new InvalidArgumentError('strand serve --tenants works on a LevelDB path.');
    if (opts.demo) throw new InvalidArgumentError('strand serve --demo seeds one log; it does not go with --tenants.');
    const tenants = await TenantManager.open({ store: new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    server = createServer({ tenants, limits, routes, groups, ...(tls ? { tls } : {}), ...(adminKey ? { adminKey } : {}) });
    closeStore = () => tenants.close();
  } else {
    const log = await openLog();
    if (opts.demo) {
      stopDemo = await startDemo(log);
      demoRefused = stopDemo === undefined;
    }
    // Hosted projections: clients see their status and parked streams, retry, skip, rebuild and
    // wait for them (read-your-writes).
    const runners = opts.projections === undefined ? [] : (await projectionsIn(opts.projections)).map((p) => new ProjectionRunner(log, p));
    for (const r of runners) await r.start();
    // The store's size for GetStoreInfo (the console's overview): the LevelDB directory's files. A
    // file compaction removes while it is counted makes that sample unknown rather than wrong.
    const storeSize = path.startsWith('s3://')
      ? undefined
      : async () => {
          try {
            return await dirSize(path);
          } catch {
            return undefined;
          }
        };
    server = createServer({ log, limits, routes, groups, projections: runners, ...(storeSize ? { storeSize } : {}), ...(tls ? { tls } : {}), ...(apiKey ? { apiKeys: apiKey } : {}), ...(adminKey ? { adminKey } : {}) });
    closeStore = async () => {
      for (const r of runners) await r.stop();
      await log.close();
    };
  }
  const url = await server.listen({ port, host: opts.host });
  const generated = { apiKey: opts.tenants || apiKey ? undefined : server.apiKey, adminKey: adminKey ? undefined : server.adminKey };
  if (json) {
    process.stdout.write(`${JSON.stringify({ url, console: `${url}/ui/`, ...generated, tenants: opts.tenants === true, ...(opts.demo ? { demo: stopDemo !== undefined } : {}) })}\n`);
  } else {
    say(`strand serve: listening on ${url} (${opts.tenants ? 'tenants' : 'one log'} at ${path})`);
    say(`console: ${url}/ui/`);
    if (stopDemo !== undefined) say('demo: a shop domain is seeded under shop/ and an order is appended every 3 s');
    if (demoRefused) say('demo: the log at --path is not empty and not a demo log: nothing seeded');
    if (generated.apiKey) say(`API key (generated; choose one with --api-key or STRAND_API_KEY): ${generated.apiKey}`);
    if (generated.adminKey) say(`admin key (generated; --admin-key or STRAND_ADMIN_KEY): ${generated.adminKey}`);
    say(`try: curl -s ${url}/strand.v1.EventStoreService/GetPosition -H 'content-type: application/json' -H "authorization: Bearer $KEY" -d '{}'`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  stopDemo?.();
  await server.close();
  await closeStore();
  if (!json) say('strand serve: stopped (every acknowledged append is durable)');
}
