// Small pieces shared by the screens.
import { createContext } from 'preact';
import { useContext, useEffect } from 'preact/hooks';
import { type Failure, failure, type KeyGrant, may } from './api.js';

/** The signed-in key's grants (WhoAmI); undefined until known, and for the admin credential. */
export const GrantsContext = createContext<readonly KeyGrant[] | undefined>(undefined);

/**
 * May the signed-in key do `permission` (on `stream`, or on some stream)? False until its grants
 * are known: an action is offered only to a key that may take it (the server checks again).
 */
export function useMay(permission: string, stream?: string): boolean {
  return may(useContext(GrantsContext), permission, stream);
}

/** True once the signed-in key's grants are known (so "you may not" can be said, not guessed). */
export function useGrantsKnown(): boolean {
  return useContext(GrantsContext) !== undefined;
}

export function ErrorBanner({ error }: { error: Failure | undefined }) {
  if (error === undefined) return null;
  return (
    <p class="error" role="alert">
      <code>{error.code}</code> {error.message}
    </p>
  );
}

export function time(ms: number | bigint): string {
  const n = Number(ms);
  return n === 0 ? '' : new Date(n).toISOString().replace('T', ' ').replace('Z', '');
}

/** How often a screen samples the server while it is shown. */
export const SAMPLE_MS = 2000;
/** Samples a chart keeps: five minutes of them. */
export const KEEP = 150;

/**
 * Samples the server while the component is shown: runs a sampler at once and again `SAMPLE_MS`
 * after each run settles, until the component unmounts or `deps` change. `start` makes the sampler
 * for each run of the effect (state it keeps across samples lives in its closure); the sampler is
 * told when the effect has ended, so that it drops an answer that came too late. A failure goes to
 * `onError` as a {@link Failure}, and the next success clears it.
 */
export function useSampling(start: () => (ended: () => boolean) => Promise<void>, onError: (error: Failure | undefined) => void, deps: readonly unknown[]): void {
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sample = start();
    const tick = async () => {
      try {
        await sample(() => stopped);
        if (!stopped) onError(undefined);
      } catch (err) {
        if (!stopped) onError(failure(err));
      }
      if (!stopped) timer = setTimeout(tick, SAMPLE_MS);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}

/** The samples with `next` added, the oldest dropped beyond {@link KEEP}. */
export function keepLast<T>(samples: readonly T[], next: T): T[] {
  return [...samples, next].slice(-KEEP);
}

/** The rate per second of a counter from `before` (at `beforeAt` ms) to `now` (at `at` ms); 0 with no sample before. */
export function perSecond(now: number, at: number, before: number | undefined, beforeAt: number | undefined): number {
  return before === undefined || beforeAt === undefined ? 0 : ((now - before) * 1000) / Math.max(1, at - beforeAt);
}

/** A line chart of the last values, as an SVG polyline (no chart library). */
export function Sparkline({ values, label }: { values: readonly number[]; label: string }) {
  const w = 240;
  const h = 48;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - (v / max) * (h - 2) - 1).toFixed(1)}`).join(' ');
  return (
    <svg class="spark" viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label={label}>
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

/** The hash link of a stream's snapshot (each segment URI-encoded). */
export function snapshotHref(stream: string): string {
  return `#/snapshots/${stream.split('/').map(encodeURIComponent).join('/')}`;
}

/** A byte count as people read it. */
export function bytes(n: number | bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 ** 3) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  return `${(v / 1024 ** 3).toFixed(2)} GiB`;
}
