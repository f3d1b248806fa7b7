// Alternating rounds for the one-core read profiles (read-loop.mjs, event-cost.mjs): the CPU is
// kept busy first (a core that has just woken runs slower, and a fast core is where the ratios to
// raw are lowest), then every variant runs once per round, in reverse order every other round, so
// a machine whose speed drifts treats all variants alike. Each ratio is then a median of
// per-round ratios (docs/design/0010-cpu-per-event.md, "Reads measured in alternating rounds").

/** Median of a non-empty list of numbers (the upper one of an even count). */
export const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

/** Wall-clock milliseconds. */
export const wallMs = () => performance.now();

/** Milliseconds of CPU used by the whole process so far, all its threads included. */
export function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Heats the CPU for `heatMs`, then runs each function of `work` once per round for `rounds`
 * rounds, alternating the order; returns each one's times as `clock` measured them, by name.
 */
export async function alternateRounds(work, { rounds, heatMs, clock }) {
  const names = Object.keys(work);
  const ms = Object.fromEntries(names.map((name) => [name, []]));
  const heatUntil = performance.now() + heatMs;
  let spin = 0;
  while (performance.now() < heatUntil) spin += Math.sqrt(spin + 1);
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      const t0 = clock();
      await work[name]();
      ms[name].push(clock() - t0);
    }
  }
  return ms;
}

/** Per-round ratios of `against`'s time to `name`'s: how fast `name` ran, as a multiple of `against`'s rate. */
export const perRoundRatios = (ms, name, against) => ms[name].map((t, i) => ms[against][i] / t);
