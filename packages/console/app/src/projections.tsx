// Projections the server hosts: status, lag (events and time) with a chart of the last minutes,
// parked streams with the error that parked them, retry and skip, and a blue/green rebuild with its
// progress. Changing needs `admin` on the tenant: the actions are offered only to a key whose grants
// (WhoAmI) hold it, and a refused action shows the server's error.
import type { ProjectionStatus } from '@strand/wire/projections_pb.js';
import { useRef, useState } from 'preact/hooks';
import { type Failure, failure } from './api.js';
import type { Session } from './app.js';
import { ErrorBanner, KEEP, Sparkline, useGrantsKnown, useMay, useSampling } from './common.js';
import { streamHref } from './streams.js';

export function Projections({ session }: { session: Session }) {
  const [list, setList] = useState<ProjectionStatus[] | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const [actionError, setActionError] = useState<Failure | undefined>();
  const history = useRef(new Map<string, number[]>());
  const mayChange = useMay('admin');
  const grantsKnown = useGrantsKnown();
  const [tick, setTick] = useState(0);
  useSampling(
    () => async () => {
      const r = await session.api.projections.listProjections({});
      for (const p of r.projections) {
        const h = history.current.get(p.name) ?? [];
        h.push(Number(p.lagEvents));
        if (h.length > KEEP) h.shift();
        history.current.set(p.name, h);
      }
      setList(r.projections);
    },
    setError,
    [session, tick],
  );
  const act = async (what: string, fn: () => Promise<unknown>) => {
    setActionError(undefined);
    try {
      await fn();
    } catch (err) {
      setActionError({ ...failure(err), message: `${what}: ${failure(err).message}` });
    }
    setTick((t) => t + 1);
  };
  return (
    <div class="projections">
      <ErrorBanner error={error} />
      <ErrorBanner error={actionError} />
      {list !== undefined && list.length === 0 && <p class="muted">This server hosts no projections for this key's log.</p>}
      {list !== undefined && list.length > 0 && grantsKnown && !mayChange && (
        <p class="muted" data-field="read-only">
          This key may not retry, skip or rebuild projections (that needs the admin permission).
        </p>
      )}
      {list?.map((p) => (
        <section class="card projection" key={p.name} data-projection={p.name} aria-label={`Projection ${p.name}`}>
          <h2 class="projection-name">{p.name}</h2>
          <dl class="info">
            <dt>Generation</dt>
            <dd>{p.generation}</dd>
            <dt>Position / head</dt>
            <dd>
              {String(p.position)} / {String(p.head)}
            </dd>
            <dt>Lag</dt>
            <dd data-field="lag">
              {String(p.lagEvents)} events, {String(p.lagMs)} ms
            </dd>
            {p.rebuildingGeneration !== 0 && (
              <>
                <dt>Rebuilding</dt>
                <dd>
                  generation {p.rebuildingGeneration} at {String(p.rebuildingPosition)}
                </dd>
              </>
            )}
          </dl>
          <Sparkline values={history.current.get(p.name) ?? []} label={`Lag of ${p.name} in events, last minutes`} />
          <h3>Parked streams ({p.parked.length})</h3>
          {p.parked.length === 0 ? (
            <p class="muted">none</p>
          ) : (
            <table class="events parked">
              <thead>
                <tr>
                  <th scope="col">Stream</th>
                  <th scope="col">Version</th>
                  <th scope="col">Error</th>
                  <th scope="col">Attempts</th>
                  {mayChange && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {p.parked.map((s) => (
                  <tr key={s.stream} data-parked={s.stream}>
                    <td>
                      <a href={streamHref(s.stream)}>{s.stream}</a>
                    </td>
                    <td>{String(s.version)}</td>
                    <td class="parked-error">{s.error}</td>
                    <td>{s.attempts}</td>
                    {mayChange && (
                    <td>
                      <button type="button" onClick={() => void act(`retry ${s.stream}`, () => session.api.projections.retryProjectionParked({ name: p.name, stream: s.stream }))}>
                        Retry
                      </button>{' '}
                      <button type="button" onClick={() => void act(`skip ${s.stream}`, () => session.api.projections.skipProjectionParked({ name: p.name, stream: s.stream }))}>
                        Skip
                      </button>
                    </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {mayChange && <Rebuild session={session} name={p.name} onDone={() => setTick((t) => t + 1)} />}
        </section>
      ))}
    </div>
  );
}

function Rebuild({ session, name, onDone }: { session: Session; name: string; onDone: () => void }) {
  const [progress, setProgress] = useState<string | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const run = async () => {
    if (!confirm(`Rebuild ${name}? The current generation serves until the new one has caught up.`)) return;
    setError(undefined);
    setProgress('starting');
    try {
      for await (const m of session.api.projections.rebuildProjection({ name })) {
        setProgress(m.done ? `done: generation ${m.status?.generation ?? '?'}` : `${String(m.position)} / ${String(m.head)}`);
      }
      onDone();
    } catch (err) {
      setError(failure(err));
      setProgress(undefined);
    }
  };
  return (
    <div class="rebuild">
      <button type="button" onClick={() => void run()}>
        Rebuild…
      </button>{' '}
      {progress !== undefined && (
        <span role="status" class="muted">
          {progress}
        </span>
      )}
      <ErrorBanner error={error} />
    </div>
  );
}
