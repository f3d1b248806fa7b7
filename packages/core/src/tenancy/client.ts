/**
 * The access-checked face of one tenant for one principal. Design: docs/design/0008-tenancy.md,
 * "Access control".
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { z } from 'zod';
import { InvalidArgumentError, isStrandError } from '../errors.js';
import { assertPrefix, assertStreamName, compilePattern } from '../names.js';
import type { EventType, RegisterOptions } from '../schema/registry.js';
import type { EventLog } from '../log.js';
import type { AppendOptions, AppendResult, EventInput, JsonTextEvent, MultiAppendResult, ReadAllOptions, ReadStreamOptions, RecordedEvent, StreamAppend, StreamInfo, SubscribeOptions } from '../types.js';
import type { ReadMeter } from './metering.js';
import { type Grant, allows, holds, type Permission, type PrincipalRecord } from './access.js';
import { AccessDeniedError, QuotaExceededError } from './errors.js';
import type { OpenTenant, TenantManager } from './manager.js';

/** Copies appendMulti parts, reading each field once (see the log's own copy of them). */
function copyParts(input: readonly StreamAppend[]): StreamAppend[] {
  const out: StreamAppend[] = [];
  for (let i = 0; i < input.length; i++) {
    const p = input[i] as StreamAppend | null | undefined;
    if (p === null || typeof p !== 'object') throw new InvalidArgumentError('each appendMulti part must be an object { stream, events, expectedVersion }.');
    const { stream, events, expectedVersion, recreate } = p;
    out.push({ stream, events, expectedVersion, recreate });
  }
  return out;
}

/** Options of {@link TenantClient.append}. */
export interface TenantAppendOptions extends AppendOptions {
  /**
   * On a rate quota, wait until the append fits (back-pressure) instead of failing with
   * `STRAND_QUOTA_EXCEEDED`. Storage and stream quotas always fail.
   */
  wait?: boolean;
}

/** What a follower reads from the tenant's log, and how a delivered event is metered. */
interface FollowKind<T> {
  follow(log: EventLog, pattern: string, options: SubscribeOptions): AsyncIterable<T>;
  meter(reads: ReadMeter, e: T): void;
}
const FOLLOW_DECODED: FollowKind<RecordedEvent> = { follow: (log, pattern, options) => log.follow(pattern, options), meter: (reads, e) => reads.read(e) };
const FOLLOW_JSON: FollowKind<JsonTextEvent> = { follow: (log, pattern, options) => log.followJson(pattern, options), meter: (reads, e) => reads.readJson(e) };

/**
 * What one principal can do in its tenant. Every method checks the principal's current grants
 * (so a revocation applies to the next call) and throws `STRAND_ACCESS_DENIED` when it may not,
 * whether or not the target exists. Obtain one with `TenantManager.authenticate(apiKey)`.
 */
export class TenantClient {
  // Authority lives in true private fields and the instance is frozen: code holding a client cannot
  // point it at another tenant or principal, or reach the manager behind it.
  readonly #manager: TenantManager;
  readonly #principalId: string;
  readonly #tenant: string;

  /** @internal */
  constructor(manager: TenantManager, principalId: string, tenant: string) {
    this.#manager = manager;
    this.#principalId = principalId;
    this.#tenant = tenant;
    Object.freeze(this);
  }

  /** The principal's id. */
  get principalId(): string {
    return this.#principalId;
  }

  /** The tenant it acts in. */
  get tenant(): string {
    return this.#tenant;
  }

  private principal(): PrincipalRecord {
    return this.#manager.currentPrincipal(this.#principalId);
  }

  private check(permission: Permission, stream: unknown): void {
    const p = this.principal();
    assertStreamName(stream);
    if (!allows(p.grants, permission, stream)) throw new AccessDeniedError();
  }

  private async state(): Promise<OpenTenant> {
    return this.#manager.tenant(this.#tenant);
  }

  /** The principal's current grants. */
  grants(): readonly Grant[] {
    return this.principal().grants;
  }

  /** Appends to one stream (needs `append` on it). See {@link TenantAppendOptions.wait}. */
  async append(stream: string, events: readonly EventInput[], options: TenantAppendOptions = {}): Promise<AppendResult> {
    this.check('append', stream);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('append options must be an object.');
    const { wait, ...rest } = options;
    const t = await this.state();
    return this.withBackPressure(wait === true, () =>
      this.#manager.scheduler.run(this.#tenant, () => {
        this.check('append', stream);
        return t.log.append(stream, events, rest);
      }),
    );
  }

  /** Appends to several streams atomically (needs `append` on each). */
  async appendMulti(input: readonly StreamAppend[], options: { wait?: boolean } = {}): Promise<MultiAppendResult> {
    if (!Array.isArray(input)) throw new InvalidArgumentError('appendMulti needs an array of { stream, events, expectedVersion }.');
    // Read each part once: the streams checked are the streams written (a getter cannot change them).
    const parts = copyParts(input);
    const checkAll = () => {
      for (const p of parts) this.check('append', p.stream);
    };
    checkAll();
    const t = await this.state();
    return this.withBackPressure(options?.wait === true, () =>
      this.#manager.scheduler.run(this.#tenant, () => {
        checkAll();
        return t.log.appendMulti(parts);
      }),
    );
  }

  private async withBackPressure<T>(wait: boolean, attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await attempt();
      } catch (e) {
        const retryAfter = isStrandError(e, 'STRAND_QUOTA_EXCEEDED') ? (e as QuotaExceededError).details.retryAfterMs : undefined;
        if (!wait || typeof retryAfter !== 'number') throw e;
        // Back-pressure, not synchronisation: the bucket refills with time.
        await delay(Math.max(1, retryAfter));
      }
    }
  }

  /** Reads one stream (needs `read` on it). */
  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncGenerator<RecordedEvent> {
    this.check('read', stream);
    const t = await this.state();
    for await (const e of t.log.readStream(stream, options)) {
      this.check('read', stream);
      t.reads.read(e);
      yield e;
    }
  }

  /** Metadata of a stream (needs `read` on it); `undefined` if it does not exist. */
  async streamInfo(stream: string): Promise<StreamInfo | undefined> {
    this.check('read', stream);
    return (await this.state()).log.streamInfo(stream);
  }

  /**
   * Reads the tenant's global order, showing only events of streams the principal may `read`
   * (and matching `options.pattern`). `limit` counts delivered events.
   */
  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    const p = this.principal();
    if (!holds(p.grants, 'read')) throw new AccessDeniedError();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('readAll options must be an object.');
    const { limit, ...rest } = options;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new InvalidArgumentError(`limit must be a positive integer; got ${String(limit)}.`);
    const t = await this.state();
    let left = limit ?? Number.POSITIVE_INFINITY;
    for await (const e of t.log.readAll(rest)) {
      if (!allows(this.principal().grants, 'read', e.stream)) continue;
      t.reads.read(e);
      yield e;
      if (--left <= 0) return;
    }
  }

  /** Names of the streams at or below `prefix` ('' = all) that the principal may `read`, in order. */
  async listStreams(prefix = ''): Promise<string[]> {
    const p = this.principal();
    assertPrefix(prefix);
    if (!holds(p.grants, 'read')) throw new AccessDeniedError();
    const t = await this.state();
    const out: string[] = [];
    // Like EventLog.countStreams, the prefix itself counts when it is a stream.
    if (prefix !== '' && allows(p.grants, 'read', prefix) && (await t.log.streamInfo(prefix)) !== undefined) out.push(prefix);
    const walk = async (at: string): Promise<void> => {
      let after: string | undefined;
      for (;;) {
        const page = await t.log.listChildren(at, after === undefined ? { limit: 1000 } : { limit: 1000, after });
        for (const e of page.entries) {
          if (e.isStream && allows(this.principal().grants, 'read', e.name)) out.push(e.name);
          if (e.hasChildren) await walk(e.name);
        }
        if (page.next === undefined) return;
        after = page.next;
      }
    };
    await walk(prefix);
    return out;
  }

  /** How many streams at or below `prefix` the principal may `read`. */
  async countStreams(prefix = ''): Promise<number> {
    return (await this.listStreams(prefix)).length;
  }

  /**
   * Follows the tenant's log (catch-up, then live): events of streams matching `pattern` that the
   * principal may `subscribe` to. Counts against the tenant's `subscriptions` quota while open.
   * Revoking the principal, deleting it or suspending its tenant ends the iteration at once with
   * `STRAND_ACCESS_DENIED` / `STRAND_TENANT_SUSPENDED`; revoking one grant hides that grant's
   * streams from the next event on.
   */
  follow(pattern: string, options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    return this.followWith(pattern, options, FOLLOW_DECODED);
  }

  /**
   * {@link TenantClient.follow} with each payload as JSON text (`EventLog.followJson`): same
   * checks, quota and metering, the stored JSON handed on without a parse (the server's
   * subscriptions).
   */
  followJson(pattern: string, options: SubscribeOptions = {}): AsyncIterable<JsonTextEvent> {
    return this.followWith(pattern, options, FOLLOW_JSON);
  }

  private followWith<T extends { readonly stream: string }>(pattern: string, options: SubscribeOptions, how: FollowKind<T>): AsyncIterable<T> {
    const p = this.principal();
    compilePattern(pattern);
    if (!holds(p.grants, 'subscribe')) throw new AccessDeniedError();
    return this.followChecked(pattern, options, how);
  }

  private async *followChecked<T extends { readonly stream: string }>(pattern: string, options: SubscribeOptions, how: FollowKind<T>): AsyncGenerator<T> {
    const t = await this.state();
    const max = t.record.quotas.subscriptions;
    if (max !== undefined && t.subscriptionsOpen >= max) throw new QuotaExceededError('subscriptions', max);
    t.subscriptionsOpen++;
    t.reads.subscribed();
    const abort = new AbortController();
    let ended: unknown;
    const onOuter = () => abort.abort();
    options.signal?.addEventListener('abort', onOuter, { once: true });
    const unwatch = this.#manager.watch(this.#principalId, this.#tenant, () => {
      try {
        if (!holds(this.principal().grants, 'subscribe')) throw new AccessDeniedError();
      } catch (e) {
        ended = e;
        abort.abort();
      }
    });
    try {
      for await (const e of how.follow(t.log, pattern, { ...options, signal: abort.signal })) {
        if (ended !== undefined) break;
        if (!allows(this.principal().grants, 'subscribe', e.stream)) continue;
        how.meter(t.reads, e);
        yield e;
      }
      if (ended !== undefined) throw ended;
    } finally {
      unwatch();
      options.signal?.removeEventListener('abort', onOuter);
      t.subscriptionsOpen--;
    }
  }

  /**
   * Registers a version of an event type in the tenant's schema registry (needs `schemas`); from
   * then on every append of the tenant is validated against it (see docs/design/0006-schemas.md).
   */
  async registerSchema<T extends string, S extends z.ZodType>(type: T, version: number, schema: S, options: RegisterOptions = {}): Promise<EventType<T, z.output<S>>> {
    if (!holds(this.principal().grants, 'schemas')) throw new AccessDeniedError();
    return (await this.state()).schemas.register(type, version, schema, options);
  }

  /** Binds a stream pattern to the event types it accepts (needs `schemas`). */
  async bindSchemas(pattern: string, types: readonly string[]): Promise<void> {
    if (!holds(this.principal().grants, 'schemas')) throw new AccessDeniedError();
    return (await this.state()).schemas.bind(pattern, types);
  }

  /** Creates a principal in this tenant (needs `admin`). Returns its id and API key (shown once). */
  async createPrincipal(grants: readonly Grant[], label = ''): Promise<{ id: string; apiKey: string }> {
    this.admin();
    return this.#manager.createPrincipal(this.#tenant, grants, label);
  }

  /** Grants a permission to a principal of this tenant (needs `admin`). */
  async grant(principalId: string, grant: Grant): Promise<void> {
    this.admin();
    return this.#manager.grant(principalId, grant, this.#tenant);
  }

  /** Revokes a grant of a principal of this tenant (needs `admin`); effective at once. */
  async revoke(principalId: string, grant: Grant): Promise<void> {
    this.admin();
    return this.#manager.revoke(principalId, grant, this.#tenant);
  }

  /** Deletes a principal of this tenant (needs `admin`); its key stops working at once. */
  async deletePrincipal(principalId: string): Promise<void> {
    this.admin();
    return this.#manager.deletePrincipal(principalId, this.#tenant);
  }

  private admin(): void {
    if (!holds(this.principal().grants, 'admin')) throw new AccessDeniedError();
  }
}
