// The shell: login with an API key (kept in sessionStorage), navigation by URL hash, the screens.
import { useEffect, useState } from 'preact/hooks';
import { type Api, connect, type Failure, failure, storedKey, storeKey } from './api.js';
import { ErrorBanner } from './common.js';
import { Overview } from './overview.js';
import { Streams } from './streams.js';
import { Tail } from './tail.js';

/** The session: the key and a client that sends it. */
export interface Session {
  key: string;
  api: Api;
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
  { id: 'streams', title: 'Streams' },
  { id: 'tail', title: 'Live tail' },
  { id: 'overview', title: 'Overview' },
] as const;

export function App() {
  const [session, setSession] = useState<Session | undefined>(() => {
    const key = storedKey();
    return key === undefined ? undefined : { key, api: connect(key) };
  });
  const hash = useHash();
  if (session === undefined) return <Login onLogin={setSession} />;
  const [screen = 'streams', ...rest] = hash.replace(/^#\/?/, '').split('/');
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
          {SCREENS.map((s) => (
            <a key={s.id} href={`#/${s.id}`} aria-current={screen === s.id ? 'page' : undefined}>
              {s.title}
            </a>
          ))}
        </nav>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {screen === 'tail' ? <Tail session={session} /> : screen === 'overview' ? <Overview session={session} /> : <Streams session={session} selected={arg} />}
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
    const api = connect(key.trim());
    try {
      // Any call proves the key; the head position needs only read (or subscribe).
      await api.getPosition({});
      storeKey(key.trim());
      onLogin({ key: key.trim(), api });
    } catch (err) {
      setError(failure(err));
    } finally {
      setBusy(false);
    }
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
        <p class="hint">The key is kept for this tab only (sessionStorage).</p>
        <ErrorBanner error={error} />
      </form>
    </main>
  );
}
