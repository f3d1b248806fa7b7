// Small pieces shared by the screens.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { type Failure, type KeyGrant, may } from './api.js';

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
