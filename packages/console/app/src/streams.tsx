// Streams: the name hierarchy as a lazily loaded, paged tree (listChildren), a name-prefix search,
// and per stream its info and its events paged forwards and backwards, with a jump to a version or
// a global position; a key that may append to the stream gets a form to append an event.
import type { Snapshot } from '@strand/wire/snapshots_pb.js';
import type { HierarchyEntry, RecordedEvent, StreamInfo } from '@strand/wire/store_pb.js';
import { useEffect, useState } from 'preact/hooks';
import { type Failure, failure, prettyJson } from './api.js';
import type { Session } from './app.js';
import { bytes, ErrorBanner, snapshotHref, time, useMay } from './common.js';

const TREE_PAGE = 50;
const EVENTS_PAGE = 20;

/** The hash link of a stream (each segment URI-encoded). */
export function streamHref(name: string): string {
  return `#/streams/${name.split('/').map(encodeURIComponent).join('/')}`;
}

export function Streams({ session, selected }: { session: Session; selected: string }) {
  const [query, setQuery] = useState('');
  return (
    <div class="split">
      <aside class="tree-pane" aria-label="Stream hierarchy">
        <label for="stream-search">Find streams by name prefix</label>
        <input id="stream-search" type="search" placeholder="orders/eu" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        {query.trim() === '' ? (
          <ul class="tree">
            <Level session={session} prefix="" />
          </ul>
        ) : (
          <Search session={session} query={query.trim()} />
        )}
      </aside>
      <section class="detail" aria-label="Stream">
        {selected === '' ? <p class="muted">Choose a stream in the tree, or search by name.</p> : <StreamDetail key={selected} session={session} stream={selected} />}
      </section>
    </div>
  );
}

/** The children of one prefix, a page at a time. */
function Level({ session, prefix }: { session: Session; prefix: string }) {
  const [entries, setEntries] = useState<HierarchyEntry[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Failure | undefined>();
  const load = async (after: string | undefined) => {
    setLoading(true);
    try {
      const page = await session.api.store.listChildren({ prefix, after: after ?? '', limit: TREE_PAGE });
      setEntries((old) => (after === undefined ? page.entries : [...old, ...page.entries]));
      setNext(page.next);
      setError(undefined);
    } catch (err) {
      setError(failure(err));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(undefined);
  }, [prefix]);
  return (
    <>
      {entries.map((e) => (
        <Node key={e.name} session={session} entry={e} />
      ))}
      {loading && <li class="muted">loading…</li>}
      {error && (
        <li>
          <ErrorBanner error={error} />
        </li>
      )}
      {!loading && next !== undefined && (
        <li>
          <button type="button" class="link more" onClick={() => void load(next)}>
            more under {prefix === '' ? 'the root' : prefix}…
          </button>
        </li>
      )}
      {!loading && error === undefined && entries.length === 0 && <li class="muted">no streams</li>}
    </>
  );
}

function Node({ session, entry }: { session: Session; entry: HierarchyEntry }) {
  const [open, setOpen] = useState(false);
  return (
    <li data-name={entry.name}>
      <span class="node">
        {entry.hasChildren ? (
          <button type="button" class="toggle" aria-label={`${open ? 'Collapse' : 'Expand'} ${entry.name}`} onClick={() => setOpen(!open)}>
            {open ? '▾' : '▸'}
          </button>
        ) : (
          <span class="toggle" />
        )}
        {entry.isStream ? (
          <a href={streamHref(entry.name)}>{entry.segment}</a>
        ) : (
          <button type="button" class="link segment" onClick={() => setOpen(!open)}>
            {entry.segment}/
          </button>
        )}
      </span>
      {open && (
        <ul>
          <Level session={session} prefix={entry.name} />
        </ul>
      )}
    </li>
  );
}

/** The segment just below `s` in byte order, so that `after` it starts at `s` itself. */
function before(s: string): string {
  const cps = [...s];
  const last = cps.pop()!.codePointAt(0)!;
  if (last <= 1) return cps.join('');
  return `${cps.join('')}${String.fromCodePoint(last - 1)}\u{10FFFF}`;
}

/** Streams and prefixes whose name starts with `query`: the children of its parent from the typed segment on. */
function Search({ session, query }: { session: Session; query: string }) {
  const slash = query.lastIndexOf('/');
  const parent = slash < 0 ? '' : query.slice(0, slash);
  const partial = query.slice(slash + 1);
  const [entries, setEntries] = useState<HierarchyEntry[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const [loading, setLoading] = useState(true);
  const load = async (after: string | undefined, append: boolean) => {
    setLoading(true);
    try {
      const page = await session.api.store.listChildren({ prefix: parent, after: after ?? '', limit: TREE_PAGE });
      const matching = page.entries.filter((e) => e.segment.startsWith(partial));
      // Children come in byte order: once one does not match, none after it will.
      const complete = matching.length < page.entries.length || page.next === undefined;
      setEntries((old) => (append ? [...old, ...matching] : matching));
      setNext(complete ? undefined : page.next);
      setError(undefined);
    } catch (err) {
      setError(failure(err));
      setEntries([]);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(partial === '' ? undefined : before(partial), false);
  }, [query]);
  return (
    <div class="search-results" aria-live="polite">
      <ErrorBanner error={error} />
      <ul class="tree">
        {entries.map((e) => (
          <Node key={e.name} session={session} entry={e} />
        ))}
        {!loading && next !== undefined && (
          <li>
            <button type="button" class="link more" onClick={() => void load(next, true)}>
              more…
            </button>
          </li>
        )}
      </ul>
      {!loading && error === undefined && entries.length === 0 && <p class="muted">No stream starts with {query}.</p>}
    </div>
  );
}

interface Page {
  events: RecordedEvent[];
  hasOlder: boolean;
  hasNewer: boolean;
}

function StreamDetail({ session, stream }: { session: Session; stream: string }) {
  const [info, setInfo] = useState<StreamInfo | null | undefined>();
  const [page, setPage] = useState<Page | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const [jumpKind, setJumpKind] = useState<'version' | 'position'>('version');
  const [jumpTo, setJumpTo] = useState('');
  const [otherStream, setOtherStream] = useState<string | undefined>();
  const [snapshot, setSnapshot] = useState<Snapshot | null | undefined>();
  const mayAppend = useMay('append', stream);

  const load = async (from: number, backwards: boolean, openVersion?: number) => {
    try {
      const [i, r] = await Promise.all([
        session.api.store.getStreamInfo({ stream }),
        session.api.store.readStream({ stream, from: BigInt(from), backwards, limit: EVENTS_PAGE, skipTruncated: true }),
      ]);
      const current = i.info ?? null;
      setInfo(current);
      const events = [...r.events].sort((a, b) => Number(a.version - b.version));
      const first = events[0];
      const last = events[events.length - 1];
      const lowest = current === null ? 1 : Math.max(1, Number(current.truncatedBefore));
      const head = current === null ? 0 : Number(current.version);
      setPage({
        events,
        hasOlder: first !== undefined ? Number(first.version) > lowest : from > lowest,
        hasNewer: last !== undefined ? Number(last.version) < head : !backwards && from <= head,
      });
      if (openVersion !== undefined) setOpen(events.find((e) => Number(e.version) === openVersion)?.id);
      setError(undefined);
    } catch (err) {
      setError(failure(err));
    }
  };
  useEffect(() => {
    void load(0, true);
    // The aggregate snapshot beside the stream, if any (a refusal is the events' refusal too).
    session.api.snapshots.getSnapshot({ stream }).then(
      (r) => setSnapshot(r.snapshot ?? null),
      () => setSnapshot(undefined),
    );
  }, [stream]);

  const jump = async (e: Event) => {
    e.preventDefault();
    setOtherStream(undefined);
    const n = Number(jumpTo);
    if (!Number.isSafeInteger(n) || n < 1) {
      setError({ code: 'STRAND_INVALID_ARGUMENT', message: `A ${jumpKind} is a whole number >= 1.` });
      return;
    }
    if (jumpKind === 'version') return load(n, false, n);
    try {
      const r = await session.api.store.readAll({ from: BigInt(n), to: BigInt(n), limit: 1 });
      const hit = r.events[0];
      if (hit === undefined) setError({ code: 'STRAND_NOT_FOUND', message: `No event at position ${n} that this key may read.` });
      else if (hit.stream !== stream) {
        setError(undefined);
        setOtherStream(hit.stream);
      } else await load(Number(hit.version), false, Number(hit.version));
    } catch (err) {
      setError(failure(err));
    }
  };

  const events = page?.events ?? [];
  const first = events[0];
  const last = events[events.length - 1];
  return (
    <div class="stream">
      <h2 class="stream-name">{stream}</h2>
      <ErrorBanner error={error} />
      {info === null && <p class="muted">No stream named {stream}.</p>}
      {info && (
        <dl class="info" aria-label="Stream info">
          <dt>Version</dt>
          <dd data-field="version">{String(info.version)}</dd>
          <dt>Head position</dt>
          <dd data-field="position">{String(info.lastPosition)}</dd>
          <dt>Created</dt>
          <dd>{time(info.created)}</dd>
          <dt>Truncated before</dt>
          <dd>{String(info.truncatedBefore)}</dd>
          <dt>Deleted</dt>
          <dd data-field="deleted">{info.deleted ? 'yes' : 'no'}</dd>
          <dt>Snapshot</dt>
          <dd data-field="snapshot">
            {snapshot ? (
              <a href={snapshotHref(stream)}>
                version {String(snapshot.version)} ({bytes(snapshot.sizeBytes)})
              </a>
            ) : snapshot === null ? (
              'none'
            ) : (
              '–'
            )}
          </dd>
        </dl>
      )}
      {info && (
        <>
          <div class="pager" role="toolbar" aria-label="Pages of events">
            <button type="button" disabled={!page?.hasOlder} onClick={() => void load(1, false)}>
              ⇤ Oldest
            </button>
            <button type="button" disabled={!page?.hasOlder} onClick={() => void load(first === undefined ? 0 : Number(first.version) - 1, true)}>
              ← Older
            </button>
            <button type="button" disabled={!page?.hasNewer} onClick={() => void load(last === undefined ? 1 : Number(last.version) + 1, false)}>
              Newer →
            </button>
            <button type="button" disabled={!page?.hasNewer} onClick={() => void load(0, true)}>
              Latest ⇥
            </button>
            <form class="jump" onSubmit={jump}>
              <label for="jump-kind">Jump to</label>
              <select id="jump-kind" value={jumpKind} onChange={(e) => setJumpKind(e.currentTarget.value as 'version' | 'position')}>
                <option value="version">version</option>
                <option value="position">position</option>
              </select>
              <input aria-label="Version or position" inputMode="numeric" size={8} value={jumpTo} onInput={(e) => setJumpTo(e.currentTarget.value)} />
              <button type="submit">Go</button>
            </form>
          </div>
          {otherStream !== undefined && (
            <p class="note" role="status">
              Position {jumpTo} is in <a href={streamHref(otherStream)}>{otherStream}</a>.
            </p>
          )}
          <table class="events">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Position</th>
                <th scope="col">Type</th>
                <th scope="col" class="wide">
                  Time
                </th>
                <th scope="col" class="wide">
                  Id
                </th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <EventRow key={e.id} event={e} open={open === e.id} onToggle={() => setOpen(open === e.id ? undefined : e.id)} />
              ))}
            </tbody>
          </table>
          {page !== undefined && events.length === 0 && <p class="muted">No events to show.</p>}
        </>
      )}
      {(info !== undefined || error !== undefined) && mayAppend && <AppendForm session={session} stream={stream} onAppended={() => void load(0, true)} />}
    </div>
  );
}

function EventRow({ event, open, onToggle }: { event: RecordedEvent; open: boolean; onToggle: () => void }) {
  return (
    <>
      <tr class="event" data-version={String(event.version)}>
        <td>
          <button type="button" class="link" aria-expanded={open} onClick={onToggle}>
            {String(event.version)}
          </button>
        </td>
        <td>{String(event.position)}</td>
        <td class="type">{event.type}</td>
        <td class="wide">{time(event.timestamp)}</td>
        <td class="wide id">{event.id}</td>
      </tr>
      {open && (
        <tr class="event-detail">
          <td colSpan={5}>
            <dl class="info">
              <dt>Id</dt>
              <dd>{event.id}</dd>
              <dt>Time</dt>
              <dd>{time(event.timestamp)}</dd>
              <dt>Schema version</dt>
              <dd>{event.schemaVersion === 0 ? 'none' : event.schemaVersion}</dd>
            </dl>
            <h3>Data</h3>
            <pre class="json" data-field="data">
              {prettyJson(event.data)}
            </pre>
            {event.metadata !== '' && (
              <>
                <h3>Metadata</h3>
                <pre class="json" data-field="metadata">
                  {prettyJson(event.metadata)}
                </pre>
              </>
            )}
          </td>
        </tr>
      )}
    </>
  );
}

/** Appends one event (type and JSON data) to the stream: offered only to a key that may append to it. */
function AppendForm({ session, stream, onAppended }: { session: Session; stream: string; onAppended: () => void }) {
  const [type, setType] = useState('');
  const [data, setData] = useState('{}');
  const [error, setError] = useState<Failure | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setDone(undefined);
    try {
      JSON.parse(data);
    } catch {
      setError({ code: 'STRAND_INVALID_ARGUMENT', message: 'The data must be JSON, e.g. {"total": 42}.' });
      return;
    }
    try {
      const r = await session.api.store.append({ stream, events: [{ type: type.trim(), data }] });
      setDone(`appended version ${String(r.result?.version ?? '?')}`);
      onAppended();
    } catch (err) {
      setError(failure(err));
    }
  };
  return (
    <form class="append" onSubmit={submit} aria-label="Append an event">
      <h3>Append an event</h3>
      <label for="append-type">Type</label>
      <input id="append-type" value={type} onInput={(e) => setType(e.currentTarget.value)} placeholder="OrderPlaced" required />
      <label for="append-data">Data (JSON)</label>
      <textarea id="append-data" rows={3} value={data} onInput={(e) => setData(e.currentTarget.value)} />
      <button type="submit">Append</button>
      {done !== undefined && (
        <span role="status" class="muted">
          {done}
        </span>
      )}
      <ErrorBanner error={error} />
    </form>
  );
}
