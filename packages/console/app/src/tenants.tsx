// Tenant administration (the admin credential): tenants with their status and quotas, create,
// suspend and resume, a tenant's usage and metering (sampled every 2 s while open: rates and
// stored bytes as small charts over the last minutes), its principals and their grants, and new
// principals (whose key is shown once).
import type { Principal, Tenant } from '@strand/wire/admin_pb.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Failure, failure, prettyJson } from './api.js';
import type { Session } from './app.js';
import { bytes, ErrorBanner, keepLast, perSecond, Sparkline, time, useSampling } from './common.js';

export function Tenants({ session }: { session: Session }) {
  const [tenants, setTenants] = useState<Tenant[] | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const [selected, setSelected] = useState<string | undefined>();
  const [name, setName] = useState('');
  const [quotas, setQuotas] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    session.api.admin.listTenants({}).then(
      (r) => {
        setTenants(r.tenants);
        setError(undefined);
      },
      (err: unknown) => setError(failure(err)),
    );
  }, [session, tick]);
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      setError(undefined);
    } catch (err) {
      setError(failure(err));
    }
    setTick((t) => t + 1);
  };
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      await session.api.admin.createTenant({ name: name.trim(), quotas: quotas.trim() });
      setName('');
      setQuotas('');
    });
  };
  return (
    <div class="tenants">
      <ErrorBanner error={error} />
      <table class="events">
        <thead>
          <tr>
            <th scope="col">Tenant</th>
            <th scope="col">Status</th>
            <th scope="col" class="wide">
              Created
            </th>
            <th scope="col">Quotas</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {tenants?.map((t) => (
            <tr key={t.name} data-tenant={t.name}>
              <td>
                <button type="button" class="link" aria-expanded={selected === t.name} onClick={() => setSelected(selected === t.name ? undefined : t.name)}>
                  {t.name}
                </button>
              </td>
              <td data-field="status">{t.status}</td>
              <td class="wide">{time(t.created)}</td>
              <td>
                <code>{t.quotas}</code>
              </td>
              <td>
                {t.status === 'active' ? (
                  <button type="button" onClick={() => void act(() => session.api.admin.suspendTenant({ name: t.name }))}>
                    Suspend
                  </button>
                ) : (
                  <button type="button" onClick={() => void act(() => session.api.admin.resumeTenant({ name: t.name }))}>
                    Resume
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="tenant-create" onSubmit={create} aria-label="Create a tenant">
        <label for="tenant-name">New tenant</label>
        <input id="tenant-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="acme" required />
        <label for="tenant-quotas">Quotas (JSON, optional)</label>
        <input id="tenant-quotas" value={quotas} onInput={(e) => setQuotas(e.currentTarget.value)} placeholder='{"streams":1000}' />
        <button type="submit">Create</button>
      </form>
      {selected !== undefined && <TenantDetail key={selected} session={session} tenant={selected} />}
    </div>
  );
}

const PERMISSIONS = ['read', 'append', 'subscribe', 'schemas', 'admin'];

/** One sample of a tenant's metering: counters as of `at`, and their rates since the sample before. */
interface Meter {
  at: number;
  eventsAppended: number;
  eventsRead: number;
  storageBytes: number;
  appendRate: number;
  readRate: number;
}

/** A tenant's usage sampled every 2 s while shown: appended and read events per second, stored bytes. */
function Metering({ session, tenant, onUsage }: { session: Session; tenant: string; onUsage: (usage: string) => void }) {
  const [samples, setSamples] = useState<Meter[]>([]);
  const [error, setError] = useState<Failure | undefined>();
  const report = useRef(onUsage);
  report.current = onUsage;
  useSampling(
    () => async (ended) => {
      const r = await session.api.admin.getUsage({ name: tenant });
      if (ended()) return;
      report.current(r.usage);
      const u = JSON.parse(r.usage) as { eventsAppended?: number; eventsRead?: number; storageBytes?: number };
      const at = performance.now();
      setSamples((old) => {
        const prev = old[old.length - 1];
        const next: Meter = {
          at,
          eventsAppended: u.eventsAppended ?? 0,
          eventsRead: u.eventsRead ?? 0,
          storageBytes: u.storageBytes ?? 0,
          appendRate: perSecond(u.eventsAppended ?? 0, at, prev?.eventsAppended, prev?.at),
          readRate: perSecond(u.eventsRead ?? 0, at, prev?.eventsRead, prev?.at),
        };
        return keepLast(old, next);
      });
    },
    setError,
    [session, tenant],
  );
  const last = samples[samples.length - 1];
  return (
    <section class="meters" aria-label="Metering over time" data-samples={samples.length}>
      <ErrorBanner error={error} />
      <div>
        <h4>Appended events / s</h4>
        <p class="big" data-field="append-rate">
          {last === undefined ? '…' : last.appendRate.toFixed(1)}
        </p>
        <p class="muted" data-field="events-appended">
          {last === undefined ? '' : `${last.eventsAppended} in all`}
        </p>
        <Sparkline values={samples.map((m) => m.appendRate)} label={`Events appended per second by ${tenant}, last minutes`} />
      </div>
      <div>
        <h4>Read events / s</h4>
        <p class="big" data-field="read-rate">
          {last === undefined ? '…' : last.readRate.toFixed(1)}
        </p>
        <p class="muted">{last === undefined ? '' : `${last.eventsRead} in all`}</p>
        <Sparkline values={samples.map((m) => m.readRate)} label={`Events read per second by ${tenant}, last minutes`} />
      </div>
      <div>
        <h4>Stored</h4>
        <p class="big" data-field="storage" data-bytes={last?.storageBytes}>
          {last === undefined ? '…' : bytes(last.storageBytes)}
        </p>
        <p class="muted">event bytes (the storageBytes quota's count)</p>
        <Sparkline values={samples.map((m) => m.storageBytes)} label={`Bytes stored by ${tenant}, last minutes`} />
      </div>
    </section>
  );
}

function TenantDetail({ session, tenant }: { session: Session; tenant: string }) {
  const [usage, setUsage] = useState<string | undefined>();
  const [principals, setPrincipals] = useState<Principal[] | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const [grants, setGrants] = useState('read >');
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<{ id: string; apiKey: string } | undefined>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    session.api.admin.listPrincipals({ tenant }).then(
      (p) => setPrincipals(p.principals),
      (err: unknown) => setError(failure(err)),
    );
  }, [tenant, tick]);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const list = grants
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((p) => p.length === 2 && p[0] !== '')
      .map(([permission, pattern]) => ({ permission: permission!, pattern: pattern! }));
    try {
      const r = await session.api.admin.createPrincipal({ tenant, grants: list, label: label.trim() });
      setCreated({ id: r.id, apiKey: r.apiKey });
      setTick((t) => t + 1);
    } catch (err) {
      setError(failure(err));
    }
  };
  return (
    <section class="card tenant-detail" aria-label={`Tenant ${tenant}`}>
      <h2>{tenant}</h2>
      <ErrorBanner error={error} />
      <h3>Metering over time</h3>
      <Metering session={session} tenant={tenant} onUsage={setUsage} />
      <h3>Usage and metering now</h3>
      <pre class="json" data-field="usage">
        {usage === undefined ? '…' : prettyJson(usage)}
      </pre>
      <h3>Principals</h3>
      <ul class="principals">
        {principals?.map((p) => (
          <li key={p.id} data-principal={p.id}>
            <code>{p.id}</code> {p.label} <span class="muted">{time(p.created)}</span>
            <ul>
              {p.grants.map((g) => (
                <li key={`${g.permission} ${g.pattern}`}>
                  {g.permission} <code>{g.pattern}</code>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      <form class="principal-create" onSubmit={create} aria-label="Create a principal">
        <label for="principal-label">Label</label>
        <input id="principal-label" value={label} onInput={(e) => setLabel(e.currentTarget.value)} placeholder="billing service" />
        <label for="principal-grants">Grants, one per line: permission pattern ({PERMISSIONS.join(', ')})</label>
        <textarea id="principal-grants" rows={3} value={grants} onInput={(e) => setGrants(e.currentTarget.value)} />
        <button type="submit">Create principal</button>
      </form>
      {created !== undefined && (
        <p class="note" role="status">
          Principal <code>{created.id}</code> created. Its API key, shown only now: <code data-field="new-key">{created.apiKey}</code>
        </p>
      )}
    </section>
  );
}
