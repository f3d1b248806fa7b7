// Live tail: the SSE tail of a pattern, newest first, pause and resume (from where it paused: the
// tail resumes at the next position, so nothing is missed), and a bound on what the page holds.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Failure, type TailEvent, tail, tailFailure } from './api.js';
import type { Session } from './app.js';
import { ErrorBanner, time } from './common.js';
import { streamHref } from './streams.js';

const BOUNDS = [100, 500, 2000];

type State = 'stopped' | 'connecting' | 'live' | 'paused';

export function Tail({ session }: { session: Session }) {
  const [pattern, setPattern] = useState('>');
  const [bound, setBound] = useState(500);
  const [events, setEvents] = useState<TailEvent[]>([]);
  const [state, setState] = useState<State>('stopped');
  const [error, setError] = useState<Failure | undefined>();
  const [dropped, setDropped] = useState(0);
  const abort = useRef<AbortController | undefined>(undefined);
  const lastPosition = useRef<number | undefined>(undefined);
  const boundRef = useRef(bound);
  boundRef.current = bound;

  const run = (p: string, from: number | 'end') => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setState('connecting');
    setError(undefined);
    tail(
      session.key,
      p,
      from,
      controller.signal,
      () => setState('live'),
      (e) => {
        lastPosition.current = e.position;
        setEvents((old) => {
          const next = [e, ...old];
          if (next.length <= boundRef.current) return next;
          setDropped((d) => d + next.length - boundRef.current);
          return next.slice(0, boundRef.current);
        });
      },
    ).then(
      () => {
        if (!controller.signal.aborted) setState('stopped');
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setError(tailFailure(err));
        setState('stopped');
      },
    );
  };
  useEffect(() => () => abort.current?.abort(), []);

  const start = (e: Event) => {
    e.preventDefault();
    setEvents([]);
    setDropped(0);
    lastPosition.current = undefined;
    run(pattern, 'end');
  };
  const pause = () => {
    abort.current?.abort();
    setState('paused');
  };
  const resume = () => run(pattern, lastPosition.current === undefined ? 'end' : lastPosition.current + 1);

  return (
    <div class="tail">
      <form class="tail-controls" onSubmit={start}>
        <label for="tail-pattern">Pattern</label>
        <input id="tail-pattern" value={pattern} placeholder="orders/>" onInput={(e) => setPattern(e.currentTarget.value)} />
        <label for="tail-bound">Keep</label>
        <select id="tail-bound" value={bound} onChange={(e) => setBound(Number(e.currentTarget.value))}>
          {BOUNDS.map((b) => (
            <option key={b} value={b}>
              {b} events
            </option>
          ))}
        </select>
        <button type="submit">{state === 'stopped' ? 'Start' : 'Restart'}</button>
        {(state === 'live' || state === 'connecting') && (
          <button type="button" onClick={pause}>
            Pause
          </button>
        )}
        {state === 'paused' && (
          <button type="button" onClick={resume}>
            Resume
          </button>
        )}
        <span class={`status ${state}`} role="status" data-state={state}>
          {state}
        </span>
      </form>
      <ErrorBanner error={error} />
      <p class="muted">
        {events.length} shown{dropped > 0 ? `, ${dropped} older dropped (bound ${bound})` : ''}
      </p>
      <ol class="tail-events" aria-label="Events, newest first">
        {events.map((e) => (
          <li key={e.position} class="tail-event" data-position={e.position}>
            <span class="pos">#{e.position}</span> <a href={streamHref(e.stream)}>{e.stream}</a> <span class="ver">v{e.version}</span> <span class="type">{e.type}</span>{' '}
            <span class="muted">{time(e.timestamp)}</span>
            <pre class="json">{JSON.stringify(e.data)}</pre>
          </li>
        ))}
      </ol>
    </div>
  );
}
