// The shell: login with an API key (kept in sessionStorage), navigation by URL hash, the screens.
// A key opens the data screens (a log's or a tenant principal's key), the tenant screens (the
// admin credential), or both; only the screens it opens are offered.
import { useEffect, useState } from 'preact/hooks';
import { type Api, connect, type Failure, failure, type KeyGrant, type Roles, storedKey, storeKey } from './api.js';
import { ErrorBanner, GrantsContext } from './common.js';
import { Overview } from './overview.js';
import { Projections } from './projections.js';
import { Schemas } from './schemas.js';
import { Snapshots } from './snapshots.js';
import { Streams } from './streams.js';
import { Tail } from './tail.js';
import { Tenants } from './tenants.js';

/** The session: the key, clients that send it, and what it opens. */
export interface Session {
  key: string;
  api: Api;
  roles: Roles;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const SCREENS = [
  { id: 'streams', title: 'Streams', role: 'data' },
  { id: 'tail', title: 'Live tail', role: 'data' },
  { id: 'projections', title: 'Projections', role: 'data' },
  { id: 'schemas', title: 'Schemas', role: 'data' },
  { id: 'snapshots', title: 'Snapshots', role: 'data' },
  { id: 'tenants', title: 'Tenants', role: 'admin' },
  { id: 'overview', title: 'Overview', role: 'any' },
] as const;

export function App() {
  const [session, setSession] = useState<Session | undefined>(() => {
    const stored = storedKey();
    return stored === undefined ? undefined : { ...stored, api: connect(stored.key) };
  });
  // Who the key is and its grants, asked once per sign-in (and per page load): what actions to offer.
  const [me, setMe] = useState<{ tenant: string; principal: string; grants: readonly KeyGrant[] } | undefined>();
  useEffect(() => {
    setMe(undefined);
    if (session === undefined || !session.roles.data) return;
    let stale = false;
    session.api.info.whoAmI({}).then(
      (w) => {
        if (!stale) setMe({ tenant: w.tenant, principal: w.principal, grants: w.grants.map((g) => ({ permission: g.permission, pattern: g.pattern })) });
      },
      () => undefined,
    );
    return () => {
      stale = true;
    };
  }, [session]);
  const hash = useHash();
  if (session === undefined) return <Login onLogin={setSession} />;
  const offered = SCREENS.filter((s) => s.role === 'any' || session.roles[s.role]);
  const [first = 'overview', ...rest] = hash.replace(/^#\/?/, '').split('/');
  const screen = offered.some((s) => s.id === first) ? first : offered[0]!.id;
  const arg = rest.map(decodeURIComponent).join('/');
  const signOut = () => {
    storeKey(undefined);
    setSession(undefined);
  };
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Strand Console</span>
        <nav aria-label="Screens">
          {offered.map((s) => (
            <a key={s.id} href={`#/${s.id}`} aria-current={screen === s.id ? 'page' : undefined}>
              {s.title}
            </a>
          ))}
        </nav>
        {me !== undefined && (
          <span class="muted whoami" data-field="whoami" title={me.grants.map((g) => `${g.permission} ${g.pattern}`).join('\n')}>
            {me.tenant} · {me.principal}
          </span>
        )}
        {me === undefined && !session.roles.data && session.roles.admin && <span class="muted whoami">admin credential</span>}
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <GrantsContext.Provider value={me?.grants}>
        {screen === 'streams' && <Streams session={session} selected={arg} />}
        {screen === 'tail' && <Tail session={session} />}
        {screen === 'projections' && <Projections session={session} />}
        {screen === 'schemas' && <Schemas session={session} />}
        {screen === 'snapshots' && <Snapshots session={session} selected={arg} />}
        {screen === 'tenants' && <Tenants session={session} />}
        {screen === 'overview' && <Overview session={session} />}
        </GrantsContext.Provider>
      </main>
    </div>
  );
}

function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<Failure | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const k = key.trim();
    const api = connect(k);
    // The head position needs only read (or subscribe): a log's or a principal's key. Failing that,
    // listing tenants needs the admin credential (a single-log server has no tenants to administer:
    // STRAND_NO_TENANTS, yet the key is the admin credential, which reads the metrics).
    let data = true;
    let admin = false;
    try {
      await api.store.getPosition({});
    } catch (err) {
      data = false;
      try {
        await api.admin.listTenants({});
        admin = true;
      } catch (adminErr) {
        if (failure(adminErr).code !== 'STRAND_NO_TENANTS') {
          setBusy(false);
          setError(failure(err));
          return;
        }
      }
    }
    setBusy(false);
    const roles = { data, admin };
    storeKey({ key: k, roles });
    onLogin({ key: k, api, roles });
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Strand Console</h1>
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} required />
        <button type="submit" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
        <p class="hint">A log's or a principal's API key, or the admin credential. It is kept for this tab only (sessionStorage).</p>
        <ErrorBanner error={error} />
      </form>
    </main>
  );
}
