// Aggregates and snapshots: the snapshots stored beside the log (SnapshotService), listed a page at
// a time below a name prefix, and one stream's: its version, aggregate, size and state as JSON.
// Only streams the key may read are listed; a refused stream shows the server's error.
import type { Snapshot } from '@strand/wire/snapshots_pb.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Failure, failure, prettyJson } from './api.js';
import type { Session } from './app.js';
import { bytes, ErrorBanner, snapshotHref, time } from './common.js';
import { streamHref } from './streams.js';

const PAGE = 50;

export function Snapshots({ session, selected }: { session: Session; selected: string }) {
  const [prefix, setPrefix] = useState('');
  const [list, setList] = useState<Snapshot[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Failure | undefined>();
  // Typing a prefix asks once per keystroke: only the answer to the latest request is shown.
  const latest = useRef(0);
  const load = async (after: string | undefined) => {
    const request = ++latest.current;
    setLoading(true);
    try {
      const r = await session.api.snapshots.listSnapshots({ prefix: prefix.trim().replace(/\/+$/, ''), after: after ?? '', limit: PAGE });
      if (request !== latest.current) return;
      setList((old) => (after === undefined ? r.snapshots : [...old, ...r.snapshots]));
      setNext(r.next);
      setError(undefined);
    } catch (err) {
      if (request !== latest.current) return;
      setError(failure(err));
      if (after === undefined) setList([]);
    }
    setLoading(false);
  };
  useEffect(() => {
    void load(undefined);
  }, [session, prefix]);
  return (
    <div class="split">
      <aside class="tree-pane" aria-label="Snapshots">
        <label for="snapshot-prefix">Streams below</label>
        <input id="snapshot-prefix" type="search" placeholder="shop/inventory" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} />
        <ErrorBanner error={error} />
        <ul class="tree snapshot-list">
          {list.map((s) => (
            <li key={s.stream} data-snapshot={s.stream}>
              <a href={snapshotHref(s.stream)} aria-current={s.stream === selected ? 'true' : undefined}>
                {s.stream}
              </a>{' '}
              <span class="muted">
                v{String(s.version)} · {bytes(s.sizeBytes)}
              </span>
            </li>
          ))}
          {loading && <li class="muted">loading…</li>}
          {!loading && next !== undefined && (
            <li>
              <button type="button" class="link more" onClick={() => void load(next)}>
                more snapshots…
              </button>
            </li>
          )}
        </ul>
        {!loading && error === undefined && list.length === 0 && <p class="muted">No snapshots{prefix.trim() === '' ? '' : ` below ${prefix.trim()}`}.</p>}
      </aside>
      <section class="detail" aria-label="Snapshot">
        {selected === '' ? <p class="muted">Choose a snapshot. Aggregates write them (@strand/aggregate) to load without replaying a whole stream.</p> : <SnapshotDetail key={selected} session={session} stream={selected} />}
      </section>
    </div>
  );
}

function SnapshotDetail({ session, stream }: { session: Session; stream: string }) {
  const [snap, setSnap] = useState<Snapshot | null | undefined>();
  const [head, setHead] = useState<bigint | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  useEffect(() => {
    Promise.all([session.api.snapshots.getSnapshot({ stream }), session.api.store.getStreamInfo({ stream })]).then(
      ([s, i]) => {
        setSnap(s.snapshot ?? null);
        setHead(i.info?.version);
      },
      (err: unknown) => setError(failure(err)),
    );
  }, [session, stream]);
  return (
    <div class="snapshot">
      <h2 class="stream-name">{stream}</h2>
      <ErrorBanner error={error} />
      {snap === null && <p class="muted">{stream} has no snapshot.</p>}
      {snap && (
        <>
          <dl class="info" aria-label="Snapshot info">
            <dt>Aggregate</dt>
            <dd data-field="aggregate">{snap.aggregate}</dd>
            <dt>Version</dt>
            <dd data-field="snapshot-version">{String(snap.version)}</dd>
            <dt>Stream version</dt>
            <dd data-field="stream-version">
              {head === undefined ? '–' : String(head)}
              {head !== undefined && head > snap.version && <span class="muted"> ({String(head - snap.version)} events after the snapshot)</span>}
            </dd>
            <dt>State version</dt>
            <dd>{snap.stateVersion}</dd>
            <dt>Size</dt>
            <dd data-field="size">{bytes(snap.sizeBytes)}</dd>
            <dt>Taken</dt>
            <dd>{time(snap.takenAt)}</dd>
          </dl>
          <p>
            <a href={streamHref(stream)}>Events of {stream}</a>
          </p>
          <h3>State</h3>
          <pre class="json" data-field="state">
            {prettyJson(snap.state)}
          </pre>
        </>
      )}
    </div>
  );
}
