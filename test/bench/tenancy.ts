/**
 * Tenancy figures (issue 6): tenant B's durable append p99 while tenant A floods the same store,
 * over B's p99 alone (the noisy-neighbour ratio), and the cost of creating a tenant.
 * Design: docs/design/0008-tenancy.md, "Quotas and fairness".
 *
 * @module
 */
import { EventLog } from '@strand/core';
import { TenantManager, type TenantQuotas } from '@strand/core/tenancy';
import { ClassicLevel } from 'classic-level';
import { type BenchContext, type BenchSection, type Figure, median, payload, percentile, round } from './figure.js';

/** One append; resolves `false` if it was refused (rate-limited). */
type Append = (stream: string, i: number) => Promise<unknown>;

/** B's append latencies (ms), `inFlight` at a time, while `flood` (if any) runs 64 appenders of 10 events. */
async function measureB(appendB: Append, appendA: Append | undefined, total: number): Promise<{ p99: number; p50: number; floodEvents: number }> {
  let stop = false;
  let floodEvents = 0;
  const flood =
    appendA === undefined
      ? []
      : Array.from({ length: 64 }, async (_, w) => {
          for (let i = 0; !stop; i++) {
            if ((await appendA(`a/${w}-${i % 100}`, i)) !== false) floodEvents += 10;
          }
        });
  // Let the flood reach its steady state before measuring.
  if (appendA !== undefined) for (let i = 0; i < 20; i++) await appendB('b/warm', i);
  const lat: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now();
        await appendB(`b/${i % 200}`, i);
        lat.push(performance.now() - t0);
      }
    }),
  );
  stop = true;
  await Promise.all(flood);
  return { p99: percentile(lat, 99), p50: percentile(lat, 50), floodEvents };
}

const ten = (i: number) => Array.from({ length: 10 }, (_, k) => ({ type: 'Flood', data: payload(i * 10 + k) }));
const one = (i: number) => [{ type: 'Order', data: payload(i) }];

/**
 * Tenants A and B in one store, each with its own log and commit loop, appending through their
 * TenantClients (grants checked, fair scheduler, metering); A optionally rate-limited.
 */
async function tenancyRatio(ctx: BenchContext, total: number, quotasA: TenantQuotas = {}, fairSlots?: number): Promise<{ ratio: number; alone: number; flooded: number; floodRate: number }> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(await ctx.tmpdir('tenancy'), { keyEncoding: 'view', valueEncoding: 'view' });
  const tenants = await TenantManager.open(fairSlots === undefined ? { store: db, ownsStore: true } : { store: db, ownsStore: true, fairSlots });
  await tenants.createTenant('A', { quotas: quotasA });
  await tenants.createTenant('B');
  const client = async (t: string) => tenants.authenticate((await tenants.createPrincipal(t, [{ permission: 'append', pattern: '>' }])).apiKey);
  const a = await client('A');
  const b = await client('B');
  const appendB: Append = (s, i) => b.append(s, one(i));
  const appendA: Append = async (s, i) => {
    try {
      await a.append(s, ten(i));
      return true;
    } catch {
      // Rate-limited: back off like a well-behaved client would.
      await new Promise((r) => setTimeout(r, 5));
      return false;
    }
  };
  const alone = await measureB(appendB, undefined, total);
  const t0 = performance.now();
  const flooded = await measureB(appendB, appendA, total);
  const floodRate = (flooded.floodEvents / (performance.now() - t0)) * 1000;
  await tenants.close();
  return { ratio: flooded.p99 / alone.p99, alone: alone.p99, flooded: flooded.p99, floodRate };
}

/** The reference: no tenancy, A and B as stream prefixes of one shared log (one writer, one group commit). */
async function sharedRatio(ctx: BenchContext, total: number): Promise<{ ratio: number; alone: number; flooded: number }> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(await ctx.tmpdir('shared'), { keyEncoding: 'view', valueEncoding: 'view' });
  const log = await EventLog.open({ store: db, ownsStore: true });
  const appendB: Append = (s, i) => log.append(s, one(i));
  const appendA: Append = (s, i) => log.append(s, ten(i));
  const alone = await measureB(appendB, undefined, total);
  const flooded = await measureB(appendB, appendA, total);
  await log.close();
  return { ratio: flooded.p99 / alone.p99, alone: alone.p99, flooded: flooded.p99 };
}

async function creation(ctx: BenchContext, n: number): Promise<{ tenant: number; raw: number }> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(await ctx.tmpdir('create'), { keyEncoding: 'view', valueEncoding: 'view' });
  const tenants = await TenantManager.open({ store: db });
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await tenants.createTenant(`tenant-${i}`);
    t.push(performance.now() - t0);
  }
  await tenants.close();
  const raw: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await db.put(Buffer.from(`raw-${i}`), Buffer.from('{"created":0}'), { sync: true } as object);
    raw.push(performance.now() - t0);
  }
  await db.close();
  return { tenant: median(t), raw: median(raw) };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const total = Math.max(300, Math.round(3000 * ctx.scale));
  const iso: Array<Awaited<ReturnType<typeof tenancyRatio>>> = [];
  const shared: Array<Awaited<ReturnType<typeof sharedRatio>>> = [];
  const limited: Array<Awaited<ReturnType<typeof tenancyRatio>>> = [];
  const unfair: Array<Awaited<ReturnType<typeof tenancyRatio>>> = [];
  for (let r = 0; r < ctx.runs; r++) {
    ctx.log(`tenancy: noisy neighbour run ${r + 1}/${ctx.runs}`);
    iso.push(await tenancyRatio(ctx, total));
    shared.push(await sharedRatio(ctx, total));
    limited.push(await tenancyRatio(ctx, total, { appendEventsPerSecond: 5000 }));
    unfair.push(await tenancyRatio(ctx, total, {}, 1_000_000));
  }
  const c = await creation(ctx, Math.max(50, Math.round(500 * ctx.scale)));
  const m = <T>(xs: T[], f: (x: T) => number) => round(median(xs.map(f)));
  return [
    {
      id: 'tenancy.noisy_neighbour.p99_ratio',
      value: m(iso, (x) => x.ratio),
      unit: 'x',
      reference: { name: 'one shared EventLog (A and B as stream prefixes, one writer, one group commit)', value: m(shared, (x) => x.ratio) },
      note: `B: ${total} synced 1-event appends, 4 in flight; A: 64 appenders of 10 events, unlimited (${m(iso, (x) => x.floodRate)} events/s); both through TenantClients. B p99 ${m(iso, (x) => x.alone)} ms alone, ${m(iso, (x) => x.flooded)} ms flooded (shared log: ${m(shared, (x) => x.alone)} → ${m(shared, (x) => x.flooded)} ms; tenancy without the fair scheduler: ${m(unfair, (x) => x.ratio)}x, A ${m(unfair, (x) => x.floodRate)} events/s)`,
    },
    {
      id: 'tenancy.noisy_neighbour_limited.p99_ratio',
      value: m(limited, (x) => x.ratio),
      unit: 'x',
      reference: { name: 'A unlimited (the figure above)', value: m(iso, (x) => x.ratio) },
      note: `A held to its appendEventsPerSecond quota of 5000 by the rate-limit plugin (got ${m(limited, (x) => x.floodRate)} events/s). B p99 ${m(limited, (x) => x.alone)} → ${m(limited, (x) => x.flooded)} ms`,
    },
    {
      id: 'tenancy.create_tenant_ms',
      value: round(c.tenant),
      unit: 'ms',
      reference: { name: 'raw classic-level: one synced put', value: round(c.raw) },
      note: 'median over sequential createTenant calls (one synced metadata write; the log opens lazily on first use)',
    },
  ];
}

/** The tenancy section. */
export const tenancy: BenchSection = { name: 'tenancy', run };
