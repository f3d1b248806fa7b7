// Tenant administration (the admin credential): tenants with their status and quotas, create,
// suspend and resume, a tenant's usage and metering, its principals and their grants, and new
// principals (whose key is shown once).
import type { Principal, Tenant } from '@strand/wire/admin_pb.js';
import { useEffect, useState } from 'preact/hooks';
import { type Failure, failure, prettyJson } from './api.js';
import type { Session } from './app.js';
import { ErrorBanner, time } from './common.js';

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

function TenantDetail({ session, tenant }: { session: Session; tenant: string }) {
  const [usage, setUsage] = useState<string | undefined>();
  const [principals, setPrincipals] = useState<Principal[] | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const [grants, setGrants] = useState('read >');
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<{ id: string; apiKey: string } | undefined>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    Promise.all([session.api.admin.getUsage({ name: tenant }), session.api.admin.listPrincipals({ tenant })]).then(
      ([u, p]) => {
        setUsage(u.usage);
        setPrincipals(p.principals);
      },
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
      <h3>Usage and metering</h3>
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
