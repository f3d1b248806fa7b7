/**
 * The tsyringe composition root: tokens for every pluggable part and a function that assembles
 * {@link EventLogOptions} from a container. Core classes never import this module; they take
 * their parts through constructor options, so tests build them without a container.
 * Design: docs/design/0008-tenancy.md, "Plugins".
 *
 * @module
 */
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { PayloadCodec } from '../codec.js';
import { InvalidArgumentError } from '../errors.js';
import type { AnyLevel, EventLogOptions } from '../log.js';
import type { AppendInterceptor, CommitHook, Logger, ReadInterceptor } from '../plugins.js';
import type { TenantManagerOptions } from '../tenancy/manager.js';
import type { TenantQuotas } from '../tenancy/quotas.js';
import type { KeyProvider } from './key-provider.js';

/** Injection tokens of Strand's extension points. Register any number of interceptors and hooks (order is kept). */
export const StrandTokens = {
  /** A {@link PayloadCodec} (one). */
  Codec: Symbol.for('strand.Codec') as InjectionToken<PayloadCodec>,
  /** The storage backend: an abstract-level database (one). */
  Store: Symbol.for('strand.Store') as InjectionToken<AnyLevel>,
  /** A {@link KeyProvider} for encryption at rest (one). */
  KeyProvider: Symbol.for('strand.KeyProvider') as InjectionToken<KeyProvider>,
  /** {@link AppendInterceptor}s (many). */
  AppendInterceptor: Symbol.for('strand.AppendInterceptor') as InjectionToken<AppendInterceptor>,
  /** {@link ReadInterceptor}s (many). */
  ReadInterceptor: Symbol.for('strand.ReadInterceptor') as InjectionToken<ReadInterceptor>,
  /** {@link CommitHook}s (many). */
  CommitHook: Symbol.for('strand.CommitHook') as InjectionToken<CommitHook>,
  /** A quota policy: the default {@link TenantQuotas} of new tenants (one). */
  QuotaPolicy: Symbol.for('strand.QuotaPolicy') as InjectionToken<TenantQuotas>,
  /** A {@link Logger} (one). */
  Logger: Symbol.for('strand.Logger') as InjectionToken<Logger>,
} as const;

function all<T>(c: DependencyContainer, token: InjectionToken<T>): T[] {
  return c.isRegistered(token, true) ? c.resolveAll(token) : [];
}

function one<T>(c: DependencyContainer, token: InjectionToken<T>): T | undefined {
  return c.isRegistered(token, true) ? c.resolve(token) : undefined;
}

/**
 * Builds {@link EventLogOptions} from what is registered in `container` (the store is required),
 * for `EventLog.open(logOptionsFrom(container))`.
 *
 * @example
 * ```ts
 * const c = container.createChildContainer();
 * c.register(StrandTokens.Store, { useValue: new ClassicLevel('./data', { keyEncoding: 'view', valueEncoding: 'view' }) });
 * c.register(StrandTokens.AppendInterceptor, { useValue: new RateLimiter({ appendEventsPerSecond: 1000 }) });
 * const log = await EventLog.open(logOptionsFrom(c));
 * ```
 */
export function logOptionsFrom(container: DependencyContainer, extra: Omit<EventLogOptions, 'store'> = {}): EventLogOptions {
  const store = one(container, StrandTokens.Store);
  if (store === undefined) throw new InvalidArgumentError('logOptionsFrom needs a store: container.register(StrandTokens.Store, { useValue: db }) first.');
  const options: EventLogOptions = {
    ...extra,
    store,
    appendInterceptors: [...all(container, StrandTokens.AppendInterceptor), ...(extra.appendInterceptors ?? [])],
    readInterceptors: [...all(container, StrandTokens.ReadInterceptor), ...(extra.readInterceptors ?? [])],
    commitHooks: [...all(container, StrandTokens.CommitHook), ...(extra.commitHooks ?? [])],
  };
  const codec = one(container, StrandTokens.Codec);
  if (codec !== undefined) options.codec = codec;
  const logger = one(container, StrandTokens.Logger);
  if (logger !== undefined) options.logger = logger;
  return options;
}

/**
 * Builds {@link TenantManagerOptions} from `container`: the store, the quota policy as the default
 * quotas of new tenants, and the registered append and read interceptors added to every tenant's
 * log (after its rate limit and schemas). Commit hooks and codecs stay per log: pass them in
 * `extra.logOptions` / `extra.plugins`.
 */
export function tenantManagerOptionsFrom(container: DependencyContainer, extra: Omit<TenantManagerOptions, 'store'> = {}): TenantManagerOptions {
  const store = one(container, StrandTokens.Store);
  if (store === undefined) throw new InvalidArgumentError('tenantManagerOptionsFrom needs a store: container.register(StrandTokens.Store, { useValue: db }) first.');
  const appendInterceptors = all(container, StrandTokens.AppendInterceptor);
  const readInterceptors = all(container, StrandTokens.ReadInterceptor);
  const quotas = one(container, StrandTokens.QuotaPolicy);
  const own = extra.plugins;
  const options: TenantManagerOptions = {
    ...extra,
    store,
    plugins: async (ctx) => {
      const p = (await own?.(ctx)) ?? {};
      return { appendInterceptors: [...appendInterceptors, ...(p.appendInterceptors ?? [])], readInterceptors: [...readInterceptors, ...(p.readInterceptors ?? [])] };
    },
  };
  if (quotas !== undefined && extra.defaultQuotas === undefined) options.defaultQuotas = quotas;
  return options;
}
