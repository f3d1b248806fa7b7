// Small pieces shared by the screens.
import type { Failure } from './api.js';

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
