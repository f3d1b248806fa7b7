// Overview: the head position, the append rate over the last minutes (from the head's movement,
// sampled while the page is open), the store's size and the server's version (GetStoreInfo), and
// what the server's metrics say (subscriptions, connections) when the key may read them.
import { useState } from 'preact/hooks';
import { type Failure, metrics } from './api.js';
import type { Session } from './app.js';
import { bytes, ErrorBanner, keepLast, perSecond, Sparkline, useSampling } from './common.js';

interface Sample {
  at: number;
  head: number;
  rate: number;
  subscriptions: number | undefined;
  /** The store's size, when the server knows it. */
  size: number | undefined;
}

export function Overview({ session }: { session: Session }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [metricsText, setMetrics] = useState<Map<string, number> | undefined | null>(null);
  const [store, setStore] = useState<{ version: string; kind: string } | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  useSampling(
    () => {
      // A tenant's principal may not read the server's metrics: asked once, not every sample.
      let mayReadMetrics = true;
      return async (ended) => {
        const [info, m] = await Promise.all([session.roles.data ? session.api.info.getStoreInfo({}) : undefined, mayReadMetrics ? metrics(session.key) : undefined]);
        mayReadMetrics = m !== undefined;
        if (ended()) return;
        setMetrics(m);
        if (info !== undefined) setStore({ version: info.serverVersion, kind: info.sizeKind });
        const head = info === undefined ? 0 : Number(info.position);
        const size = info?.sizeBytes === undefined ? undefined : Number(info.sizeBytes);
        const at = performance.now();
        setSamples((old) => {
          const prev = old[old.length - 1];
          return keepLast(old, { at, head, rate: perSecond(head, at, prev?.head, prev?.at), subscriptions: m?.get('strand_server_subscriptions_open'), size });
        });
      };
    },
    setError,
    [session],
  );
  const last = samples[samples.length - 1];
  const version = store?.version ?? (metricsText ? [...metricsText.keys()].find((k) => k.startsWith('strand_server_info{'))?.match(/version="([^"]*)"/)?.[1] : undefined);
  return (
    <div class="overview">
      <ErrorBanner error={error} />
      <div class="cards">
        <section class="card" aria-label="Head position">
          <h2>Head position</h2>
          <p class="big" data-field="head">
            {last === undefined ? '…' : last.head}
          </p>
        </section>
        <section class="card" aria-label="Append rate">
          <h2>Appends / s</h2>
          <p class="big" data-field="rate">
            {last === undefined ? '…' : last.rate.toFixed(1)}
          </p>
          <Sparkline values={samples.map((s) => s.rate)} label="Append rate, last minutes" />
        </section>
        <section class="card" aria-label="Subscriptions">
          <h2>Subscriptions open</h2>
          <p class="big">{last?.subscriptions ?? '–'}</p>
          <Sparkline values={samples.map((s) => s.subscriptions ?? 0)} label="Open subscriptions, last minutes" />
        </section>
        <section class="card" aria-label="Store size">
          <h2>Store size</h2>
          <p class="big" data-field="store-size" data-bytes={last?.size}>
            {last === undefined ? '…' : last.size === undefined ? '–' : bytes(last.size)}
          </p>
          <p class="muted" data-field="store-size-kind">
            {last !== undefined && last.size === undefined
              ? 'not reported by this server'
              : store?.kind === 'logical'
                ? "this tenant's stored event bytes"
                : store?.kind === 'disk'
                  ? 'files on disk'
                  : ''}
          </p>
          <Sparkline values={samples.map((s) => s.size ?? 0)} label="Store size, last minutes" />
        </section>
        <section class="card" aria-label="Server">
          <h2>Server</h2>
          <dl class="info">
            <dt>Version</dt>
            <dd data-field="server-version">{version ?? '–'}</dd>
            <dt>Connections</dt>
            <dd>{metricsText?.get('strand_server_connections_open') ?? '–'}</dd>
          </dl>
          {metricsText === undefined && <p class="muted">This key may not read the server's metrics.</p>}
        </section>
      </div>
    </div>
  );
}
