// The console's only way to the server: its public API. ConnectRPC (Connect protocol, binary, over
// fetch) for the RPCs, the SSE tail (`GET /v1/tail`) read with fetch (EventSource cannot send an
// Authorization header), and `/metrics` (Prometheus text) for the overview.
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { compileMatcher } from '@strand/core/match';
import { StrandErrorDetailSchema } from '@strand/wire/errors_pb.js';
import { TenantAdminService } from '@strand/wire/admin_pb.js';
import { ProjectionService } from '@strand/wire/projections_pb.js';
import { SchemaRegistryService } from '@strand/wire/schemas_pb.js';
import { SnapshotService } from '@strand/wire/snapshots_pb.js';
import { InfoService } from '@strand/wire/info_pb.js';
import { EventStoreService } from '@strand/wire/store_pb.js';

const KEY = 'strand.console.apiKey';
const ROLES = 'strand.console.roles';

/** What a key opens: the data API of a log or tenant, tenant administration (the admin credential), or both. */
export interface Roles {
  data: boolean;
  admin: boolean;
}

/** The API key of this tab and what it opens (sessionStorage: gone when the tab closes). */
export function storedKey(): { key: string; roles: Roles } | undefined {
  const key = sessionStorage.getItem(KEY);
  if (key === null) return undefined;
  let roles: Roles = { data: true, admin: false };
  try {
    roles = { ...roles, ...(JSON.parse(sessionStorage.getItem(ROLES) ?? '{}') as Partial<Roles>) };
  } catch {
    // keep the default
  }
  return { key, roles };
}

export function storeKey(stored: { key: string; roles: Roles } | undefined): void {
  if (stored === undefined) {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLES);
  } else {
    sessionStorage.setItem(KEY, stored.key);
    sessionStorage.setItem(ROLES, JSON.stringify(stored.roles));
  }
}

/** The server's base URL: the console is served by the server itself, at `<base>/ui/`. */
export const baseUrl = new URL('..', new URL('./', location.href)).href.replace(/\/$/, '');

/** Clients of the server's services, each call carrying the key. */
export interface Api {
  store: Client<typeof EventStoreService>;
  projections: Client<typeof ProjectionService>;
  schemas: Client<typeof SchemaRegistryService>;
  snapshots: Client<typeof SnapshotService>;
  info: Client<typeof InfoService>;
  admin: Client<typeof TenantAdminService>;
}

export function connect(key: string): Api {
  const auth: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [auth] });
  return {
    store: createClient(EventStoreService, transport),
    projections: createClient(ProjectionService, transport),
    schemas: createClient(SchemaRegistryService, transport),
    snapshots: createClient(SnapshotService, transport),
    info: createClient(InfoService, transport),
    admin: createClient(TenantAdminService, transport),
  };
}

/** A permission on a stream pattern, as WhoAmI answers. */
export interface KeyGrant {
  permission: string;
  pattern: string;
}

/**
 * May a key with `grants` do `permission` (on `stream`, or on some stream when none is given)?
 * Unknown grants (not loaded yet, or the server refused to say) allow nothing: the console offers
 * an action only when it knows the key may take it; the server checks again either way.
 */
export function may(grants: readonly KeyGrant[] | undefined, permission: string, stream?: string): boolean {
  if (grants === undefined) return false;
  return grants.some((g) => g.permission === permission && (stream === undefined || compileMatcher(g.pattern).matches(stream)));
}

/** A failure as the console shows it: the Strand error code (when the server sent one) and its message. */
export interface Failure {
  code: string;
  message: string;
}

export function failure(error: unknown): Failure {
  if (error instanceof ConnectError) {
    const detail = error.findDetails(StrandErrorDetailSchema)[0];
    if (detail !== undefined) return { code: detail.code, message: error.rawMessage };
    if (error.code === Code.Unauthenticated) return { code: 'STRAND_UNAUTHENTICATED', message: error.rawMessage };
    if (error.code === Code.PermissionDenied) return { code: 'STRAND_ACCESS_DENIED', message: error.rawMessage };
    if (error.code === Code.Unavailable || error.code === Code.Unknown) return { code: 'STRAND_SERVER_UNAVAILABLE', message: error.rawMessage };
    return { code: Code[error.code] ?? 'UNKNOWN', message: error.rawMessage };
  }
  // fetch itself failed (the server is down or unreachable); anything else is a bug of the console.
  if (error instanceof TypeError) return { code: 'STRAND_SERVER_UNAVAILABLE', message: error.message };
  return { code: 'STRAND_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** An event as the SSE tail sends it (the embedded log's RecordedEvent as JSON). */
export interface TailEvent {
  stream: string;
  version: number;
  position: number;
  type: string;
  id: string;
  timestamp: number;
  data: unknown;
  metadata?: unknown;
  schemaVersion?: number;
}

/**
 * Reads the SSE tail until `signal` aborts: `onOpen` once the server confirmed the subscription,
 * `onEvent` per event. Resolves when the stream ends; rejects with a {@link Failure}-able error.
 */
export async function tail(
  key: string,
  pattern: string,
  from: number | 'end',
  signal: AbortSignal,
  onOpen: () => void,
  onEvent: (e: TailEvent) => void,
): Promise<void> {
  const url = `${baseUrl}/v1/tail?pattern=${encodeURIComponent(pattern)}&from=${from}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal, cache: 'no-store' });
  if (!res.ok || res.body === null) {
    let body: { code?: string; message?: string } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch {
      // not JSON
    }
    throw new TailError(body.code ?? 'STRAND_SERVER_UNAVAILABLE', body.message ?? `HTTP ${res.status} ${res.statusText}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end = buf.indexOf('\n\n');
    while (end >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      end = buf.indexOf('\n\n');
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith(': subscribed')) onOpen();
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data !== '') onEvent(JSON.parse(data) as TailEvent);
    }
  }
}

/** A tail request the server refused. */
export class TailError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function tailFailure(error: unknown): Failure {
  if (error instanceof TailError) return { code: error.code, message: error.message };
  return failure(error);
}

/** The server's Prometheus metrics as `name{labels}` to value; undefined when the key may not read them. */
export async function metrics(key: string): Promise<Map<string, number> | undefined> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${key}` }, cache: 'no-store' });
  if (!res.ok) return undefined;
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Pretty JSON of a JSON text (or the text itself when it is not JSON). */
export function prettyJson(text: string | unknown): string {
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  if (text === '') return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
