/**
 * The tenant registry: tenants as isolated namespaces of one store, their principals and grants,
 * quotas and usage. Design: docs/design/0008-tenancy.md.
 *
 * @module
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { describeValue, InvalidArgumentError, LogClosedError } from '../errors.js';
import { type AnyLevel, EventLog, type EventLogOptions } from '../log.js';
import type { AppendInterceptor, ReadInterceptor, Sublevel } from '../plugins.js';
import { RateLimiter } from '../plugins/rate-limit.js';
import { SchemaRegistry } from '../schema/registry.js';
import { AccessDeniedError, TenantExistsError, TenantNotFoundError, TenantSuspendedError } from './errors.js';
import { assertGrant, type Grant, newApiKey, parseApiKey, type PrincipalRecord, sameGrant, secretMatches } from './access.js';
import { TenantClient } from './client.js';
import { FairScheduler } from './fair-scheduler.js';
import { MeteringHook, ReadMeter, type TenantUsage } from './metering.js';
import { assertQuotas, type TenantQuotas } from './quotas.js';
import { assertTenantName, tenantSublevelName } from './tenant-name.js';

/** Lifecycle state of a tenant. */
export type TenantStatus = 'active' | 'suspended';

/** A tenant as listed. */
export interface TenantInfo {
  /** The tenant's name (any Unicode string). */
  readonly name: string;
  /** Creation time, ms since epoch. */
  readonly created: number;
  /** Whether it can be used. */
  readonly status: TenantStatus;
  /** Its quotas. */
  readonly quotas: TenantQuotas;
}

interface TenantRecord {
  name: string;
  created: number;
  status: TenantStatus | 'deleting';
  quotas: TenantQuotas;
}

/** Interceptors a {@link TenantManager} adds to each tenant's log (e.g. encryption with the tenant's keys). */
export interface TenantPlugins {
  /** Run after the rate limiter and schema validation. */
  appendInterceptors?: readonly AppendInterceptor[];
  /** Run on every event read, before upcasting. */
  readInterceptors?: readonly ReadInterceptor[];
}

/** Options of {@link TenantManager.open}. */
export interface TenantManagerOptions {
  /** The shared store (e.g. one ClassicLevel with `view` encodings). */
  store: AnyLevel;
  /** Close the store on `close()`. Default false. */
  ownsStore?: boolean;
  /** Options passed to every tenant's EventLog (durability, codec, limits...). */
  logOptions?: Omit<EventLogOptions, 'store' | 'ownsStore' | 'appendInterceptors' | 'readInterceptors' | 'commitHooks' | 'clock'>;
  /** Per-tenant plugins, built when a tenant's log opens; `store` is the tenant's own sublevel. */
  plugins?: (context: { tenant: string; sublevel: (name: string) => Sublevel }) => TenantPlugins | Promise<TenantPlugins>;
  /** Quotas of tenants created without any. */
  defaultQuotas?: TenantQuotas;
  /** How often read counters are flushed, ms. Default 1000. */
  meterFlushMs?: number;
  /**
   * Appends admitted at once across all tenants, handed out round-robin per tenant when they are
   * all taken (see {@link FairScheduler}). Default 16.
   */
  fairSlots?: number;
  /** Clock, ms since epoch (also drives rate limits). Default `Date.now`. */
  clock?: () => number;
}

/** The state of one open tenant. */
export interface OpenTenant {
  readonly record: TenantRecord;
  readonly log: EventLog;
  readonly reads: ReadMeter;
  readonly metering: MeteringHook;
  /** The tenant's schema registry (its schemas are enforced on every append of the tenant). */
  readonly schemas: SchemaRegistry;
  limiter: RateLimiter | undefined;
  subscriptionsOpen: number;
}

const UNKNOWN_KEY_HASH = '0'.repeat(64);
const tenantKey = (name: string) => `t:${tenantSublevelName(name)}`;
const principalKey = (id: string) => `p:${id}`;

/**
 * Owns a shared store and the tenants inside it. Each tenant is an `abstract-level` sublevel named
 * by the hex of its name, holding a complete {@link EventLog} with its own positions, streams,
 * subscriptions and sublevels, and its own commit loop (which is what keeps tenants fair to each
 * other on one store). Operators use this class; tenants' principals use {@link TenantClient}s
 * from {@link TenantManager.authenticate}.
 */
export class TenantManager {
  private readonly tenants = new Map<string, TenantRecord>();
  private readonly principals = new Map<string, PrincipalRecord>();
  private readonly open = new Map<string, Promise<OpenTenant>>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Shares append slots fairly between tenants. @internal */
  readonly scheduler: FairScheduler;

  private constructor(
    private readonly store: AnyLevel,
    private readonly registry: Sublevel,
    private readonly options: TenantManagerOptions,
  ) {
    this.scheduler = new FairScheduler(options.fairSlots ?? 16);
    this.timer = setInterval(() => void this.flushMeters().catch(() => undefined), options.meterFlushMs ?? 1000);
    this.timer.unref();
  }

  /** Opens the registry in `options.store`, finishing any tenant deletion a crash interrupted. */
  static async open(options: TenantManagerOptions): Promise<TenantManager> {
    if (options === null || typeof options !== 'object' || options.store === undefined) {
      throw new InvalidArgumentError('TenantManager.open needs { store }: e.g. new ClassicLevel(path, { keyEncoding: "view", valueEncoding: "view" }).');
    }
    if (options.defaultQuotas !== undefined) assertQuotas(options.defaultQuotas);
    const store = options.store;
    if (store.status === 'opening' || store.status === 'closed') await store.open();
    const registry = store.sublevel('strand-tenancy', { keyEncoding: 'utf8', valueEncoding: 'json' }) as Sublevel;
    const m = new TenantManager(store, registry, options);
    const deleting: string[] = [];
    for await (const [key, value] of registry.iterator()) {
      if ((key as string).startsWith('t:')) {
        const r = value as TenantRecord;
        if (r.status === 'deleting') deleting.push(r.name);
        m.tenants.set(r.name, r);
      } else if ((key as string).startsWith('p:')) {
        const p = value as PrincipalRecord;
        m.principals.set(p.id, p);
      }
    }
    for (const name of deleting) await m.finishDelete(name);
    return m;
  }

  private get clock(): () => number {
    return this.options.clock ?? Date.now;
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError('The tenant manager');
  }

  private record(name: unknown): TenantRecord {
    assertTenantName(name);
    const r = this.tenants.get(name);
    if (r === undefined || r.status === 'deleting') throw new TenantNotFoundError(name);
    return r;
  }

  private info(r: TenantRecord): TenantInfo {
    return { name: r.name, created: r.created, status: r.status === 'suspended' ? 'suspended' : 'active', quotas: { ...r.quotas } };
  }

  /** Creates a tenant: one metadata write, no data is copied or initialised. */
  async createTenant(name: string, options: { quotas?: TenantQuotas } = {}): Promise<TenantInfo> {
    this.assertOpen();
    assertTenantName(name);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('createTenant options must be an object such as { quotas: { streams: 100 } }.');
    const quotas = assertQuotas(options.quotas ?? this.options.defaultQuotas);
    if (this.tenants.has(name)) throw new TenantExistsError(name);
    const r: TenantRecord = { name, created: this.clock(), status: 'active', quotas };
    this.tenants.set(name, r);
    try {
      await this.registry.put(tenantKey(name), r, { sync: true } as object);
    } catch (e) {
      this.tenants.delete(name);
      throw e;
    }
    return this.info(r);
  }

  /** Every tenant (not deleted), in name order. */
  list(): TenantInfo[] {
    this.assertOpen();
    return [...this.tenants.values()]
      .filter((r) => r.status !== 'deleting')
      .map((r) => this.info(r))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A tenant's info, or `undefined`. */
  get(name: string): TenantInfo | undefined {
    this.assertOpen();
    assertTenantName(name);
    const r = this.tenants.get(name);
    return r === undefined || r.status === 'deleting' ? undefined : this.info(r);
  }

  private async save(r: TenantRecord): Promise<void> {
    await this.registry.put(tenantKey(r.name), r, { sync: true } as object);
  }

  /** Changes a tenant's quotas; they apply to the next call. */
  async setQuotas(name: string, quotas: TenantQuotas): Promise<TenantInfo> {
    this.assertOpen();
    const r = this.record(name);
    r.quotas = assertQuotas(quotas);
    await this.save(r);
    const t = await this.open.get(name);
    if (t !== undefined) t.limiter = limiterFor(r.quotas, this.clock);
    return this.info(r);
  }

  /** Suspends a tenant: every call of its principals fails, open subscriptions end with an error. */
  async suspend(name: string): Promise<void> {
    this.assertOpen();
    const r = this.record(name);
    r.status = 'suspended';
    await this.save(r);
    this.notifyTenant(name);
  }

  /** Lets a suspended tenant work again. */
  async resume(name: string): Promise<void> {
    this.assertOpen();
    const r = this.record(name);
    r.status = 'active';
    await this.save(r);
  }

  /**
   * Deletes a tenant and all of its data and principals: marks it deleting (durably, so a crash
   * finishes the job on the next open), ends its subscriptions, closes its log, deletes its key
   * range and compacts it so the LSM gives the space back.
   */
  async deleteTenant(name: string): Promise<void> {
    this.assertOpen();
    const r = this.record(name);
    r.status = 'deleting';
    await this.save(r);
    this.notifyTenant(name);
    await this.finishDelete(name);
  }

  private async finishDelete(name: string): Promise<void> {
    const opened = this.open.get(name);
    this.open.delete(name);
    if (opened !== undefined) await (await opened.catch(() => undefined))?.log.close();
    const sub = this.tenantStore(name);
    await sub.clear();
    const compact = (this.store as { compactRange?: (a: unknown, b: unknown, o: object) => Promise<void> }).compactRange;
    if (typeof compact === 'function') {
      const prefix = `!${tenantSublevelName(name)}!`;
      await compact.call(this.store, prefix, `${prefix}\xff`, { keyEncoding: 'utf8' });
    }
    const ops: Array<{ type: 'del'; key: string }> = [{ type: 'del', key: tenantKey(name) }];
    for (const p of this.principals.values()) if (p.tenant === name) ops.push({ type: 'del', key: principalKey(p.id) });
    await this.registry.batch(ops, { sync: true } as object);
    for (const op of ops) if (op.key.startsWith('p:')) this.principals.delete(op.key.slice(2));
    this.tenants.delete(name);
  }

  private tenantStore(name: string): AnyLevel {
    return this.store.sublevel(tenantSublevelName(name), { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as AnyLevel;
  }

  /** The tenant's open state (its log opens on first use). For operators and the client; not for principals. */
  tenant(name: string): Promise<OpenTenant> {
    this.assertOpen();
    const r = this.record(name);
    let t = this.open.get(name);
    if (t === undefined) {
      t = this.openTenant(r);
      this.open.set(name, t);
      t.catch(() => this.open.delete(name));
    }
    return t;
  }

  private async openTenant(record: TenantRecord): Promise<OpenTenant> {
    const store = this.tenantStore(record.name);
    const sub = (n: string) => store.sublevel(n, { keyEncoding: 'utf8', valueEncoding: 'json' }) as Sublevel;
    const plugins = (await this.options.plugins?.({ tenant: record.name, sublevel: sub })) ?? {};
    const meterDb = sub('strand-meter');
    const metering = new MeteringHook(meterDb, () => record.quotas);
    const reads = await ReadMeter.open(meterDb);
    const rateLimit: AppendInterceptor = { name: 'rate-limit', onAppend: (events) => (t.limiter === undefined ? events : t.limiter.onAppend(events)) };
    const log = await EventLog.open({
      ...this.options.logOptions,
      store,
      clock: this.clock,
      appendInterceptors: [rateLimit],
      readInterceptors: [...(plugins.readInterceptors ?? [])],
      commitHooks: [metering],
    });
    // Order matters: append = rate limit, schema validation, then the plugins (encryption last, so
    // schemas see plaintext); read = the plugins (decryption first), then upcasting.
    log.addWorkMeter(reads.work);
    const schemas = await SchemaRegistry.open(log);
    for (const append of plugins.appendInterceptors ?? []) log.addInterceptors({ append });
    const t: OpenTenant = { record, log, reads, metering, schemas, limiter: limiterFor(record.quotas, this.clock), subscriptionsOpen: 0 };
    return t;
  }

  /** A tenant's usage: append counters as committed, read counters as of now. */
  async usage(name: string): Promise<TenantUsage> {
    const t = await this.tenant(name);
    const a = await t.metering.totals();
    return { ...a, ...t.reads.totals, storageBytes: a.bytesAppended, subscriptionsOpen: t.subscriptionsOpen };
  }

  /** Usage of every tenant in Prometheus text exposition format (for a `/metrics` endpoint). */
  async metrics(): Promise<string> {
    const reg = new Registry();
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['tenant'], registers: [reg] });
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['tenant'], registers: [reg] });
    const m = {
      appends: counter('strand_tenant_appends_total', 'Successful appends.'),
      eventsAppended: counter('strand_tenant_events_appended_total', 'Events appended.'),
      bytesAppended: counter('strand_tenant_bytes_appended_total', 'Logical bytes (JSON data + metadata) appended.'),
      eventsRead: counter('strand_tenant_events_read_total', 'Events delivered by reads and subscriptions.'),
      bytesRead: counter('strand_tenant_bytes_read_total', 'Logical bytes delivered by reads and subscriptions.'),
      subscriptionsOpened: counter('strand_tenant_subscriptions_opened_total', 'Subscriptions opened.'),
      snapshotsWritten: counter('strand_tenant_snapshots_written_total', 'Aggregate snapshots written.'),
      snapshotBytes: counter('strand_tenant_snapshot_bytes_total', 'Bytes of snapshot records written (JSON, as stored).'),
      projectionEvents: counter('strand_tenant_projection_events_total', 'Events committed by projections.'),
      storageBytes: gauge('strand_tenant_storage_bytes', 'Logical bytes stored.'),
      streams: gauge('strand_tenant_streams', 'Streams created.'),
      subscriptionsOpen: gauge('strand_tenant_subscriptions_open', 'Subscriptions open now.'),
    };
    for (const info of this.list()) {
      const u = await this.usage(info.name);
      for (const [k, metric] of Object.entries(m)) {
        const v = u[k as keyof TenantUsage];
        if (metric instanceof Counter) metric.inc({ tenant: info.name }, v);
        else metric.set({ tenant: info.name }, v);
      }
    }
    return reg.metrics();
  }

  /** Creates a principal of a tenant with these grants; returns its id and API key (shown once: only a hash is kept). */
  async createPrincipal(tenant: string, grants: readonly Grant[], label = ''): Promise<{ id: string; apiKey: string }> {
    this.assertOpen();
    this.record(tenant);
    if (!Array.isArray(grants)) throw new InvalidArgumentError('createPrincipal needs an array of grants such as [{ permission: "read", pattern: "orders/>" }].');
    if (typeof label !== 'string' || label.length > 200) throw new InvalidArgumentError(`A principal label is a string of at most 200 characters; got ${describeValue(label)}.`);
    const checked = grants.map(assertGrant);
    const { id, apiKey, keyHash } = newApiKey();
    const p: PrincipalRecord = { id, tenant, keyHash, grants: checked, created: this.clock(), label };
    await this.registry.put(principalKey(id), p, { sync: true } as object);
    this.principals.set(id, p);
    return { id, apiKey };
  }

  private principalOf(tenant: string | undefined, id: unknown): PrincipalRecord {
    const p = typeof id === 'string' ? this.principals.get(id) : undefined;
    if (p === undefined || (tenant !== undefined && p.tenant !== tenant)) throw new InvalidArgumentError(`No principal ${describeValue(id)} in this tenant; listPrincipals() shows them.`);
    return p;
  }

  /** Adds a grant to a principal (no-op if it holds it). `tenant` scopes the call (tenant admins). */
  async grant(principalId: string, grant: Grant, tenant?: string): Promise<void> {
    this.assertOpen();
    const p = this.principalOf(tenant, principalId);
    const g = assertGrant(grant);
    if (p.grants.some((x) => sameGrant(x, g))) return;
    await this.update({ ...p, grants: [...p.grants, g] });
  }

  /** Removes a grant; effective at once, open subscriptions included. */
  async revoke(principalId: string, grant: Grant, tenant?: string): Promise<void> {
    this.assertOpen();
    const p = this.principalOf(tenant, principalId);
    const g = assertGrant(grant);
    await this.update({ ...p, grants: p.grants.filter((x) => !sameGrant(x, g)) });
  }

  /** Deletes a principal: its key stops working at once, open subscriptions end with an error. */
  async deletePrincipal(principalId: string, tenant?: string): Promise<void> {
    this.assertOpen();
    const p = this.principalOf(tenant, principalId);
    await this.registry.del(principalKey(p.id), { sync: true } as object);
    this.principals.delete(p.id);
    this.notify(p.id);
  }

  /** The principals of a tenant (without key hashes). */
  listPrincipals(tenant: string): Array<Omit<PrincipalRecord, 'keyHash'>> {
    this.assertOpen();
    this.record(tenant);
    return [...this.principals.values()].filter((p) => p.tenant === tenant).map(({ keyHash: _, ...rest }) => rest);
  }

  private async update(p: PrincipalRecord): Promise<void> {
    await this.registry.put(principalKey(p.id), p, { sync: true } as object);
    this.principals.set(p.id, p);
    this.notify(p.id);
  }

  /**
   * A client acting as the principal of `apiKey`. Throws `STRAND_ACCESS_DENIED` for any key that
   * is malformed, unknown, deleted or wrong, alike.
   */
  authenticate(apiKey: string): TenantClient {
    this.assertOpen();
    const parsed = parseApiKey(apiKey);
    const p = parsed === undefined ? undefined : this.principals.get(parsed.id);
    // Hash even for an unknown id, so timing does not tell which ids exist.
    const ok = secretMatches(parsed?.secret ?? '', p?.keyHash ?? UNKNOWN_KEY_HASH);
    if (parsed === undefined || p === undefined || !ok) throw new AccessDeniedError();
    return new TenantClient(this, p.id, p.tenant);
  }

  /**
   * The principal's current record, checked on every client call: throws `STRAND_ACCESS_DENIED`
   * if it was deleted (or its tenant was), `STRAND_TENANT_SUSPENDED` if its tenant is suspended.
   * @internal
   */
  currentPrincipal(id: string): PrincipalRecord {
    if (this.closed) throw new LogClosedError('The tenant manager');
    const p = this.principals.get(id);
    const r = p === undefined ? undefined : this.tenants.get(p.tenant);
    if (p === undefined || r === undefined || r.status === 'deleting') throw new AccessDeniedError();
    if (r.status === 'suspended') throw new TenantSuspendedError();
    return p;
  }

  /** Calls `onChange` whenever the principal or its tenant changes; returns the remover. @internal */
  watch(principalId: string, tenant: string, onChange: () => void): () => void {
    const keys = [principalId, `tenant:${tenant}`];
    for (const k of keys) {
      let set = this.watchers.get(k);
      if (set === undefined) this.watchers.set(k, (set = new Set()));
      set.add(onChange);
    }
    return () => {
      for (const k of keys) this.watchers.get(k)?.delete(onChange);
    };
  }

  private notify(key: string): void {
    for (const f of [...(this.watchers.get(key) ?? [])]) f();
  }

  private notifyTenant(name: string): void {
    this.notify(`tenant:${name}`);
  }

  /** Writes every open tenant's read counters. */
  async flushMeters(): Promise<void> {
    for (const t of this.open.values()) await (await t.catch(() => undefined))?.reads.flush();
  }

  /** Flushes counters, closes every tenant's log (ending subscriptions) and the store if owned. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    await this.flushMeters();
    this.closed = true;
    for (const t of this.open.values()) await (await t.catch(() => undefined))?.log.close();
    this.open.clear();
    for (const set of this.watchers.values()) for (const f of [...set]) f();
    if (this.options.ownsStore) await this.store.close();
  }
}

function limiterFor(q: TenantQuotas, clock: () => number): RateLimiter | undefined {
  if (q.appendEventsPerSecond === undefined && q.appendBytesPerSecond === undefined) return undefined;
  return new RateLimiter({ appendEventsPerSecond: q.appendEventsPerSecond, appendBytesPerSecond: q.appendBytesPerSecond }, clock);
}
