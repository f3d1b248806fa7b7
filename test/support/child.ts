/**
 * The crash tests' harness: runs a TypeScript child process (through tsx, against the sources)
 * and SIGKILLs it at the moment a test chooses; and the children's side of it, which appends
 * under concurrent load and acknowledges each append on its own line.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Starts `script` with `args` and feeds each line it prints to `onLine`; when `onLine` returns
 * true the child is killed with SIGKILL. Resolves once it is dead; rejects (with its stderr) if it
 * exited by itself, which a crash test must not mistake for a kill.
 */
export function runUntilKilled(script: string, args: readonly string[], onLine: (line: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'strand-source', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (onLine(line)) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`${script} exited by itself (code ${code}, signal ${signal}):\n${stderr}`));
    });
  });
}

/**
 * For children that print `{ "ready": true }` and then one JSON acknowledgement per line: kills the
 * child after `killAfter` acknowledgements and returns every one it printed.
 */
export async function runUntilAcked<T extends object>(script: string, args: readonly string[], killAfter: number): Promise<T[]> {
  const acks: T[] = [];
  await runUntilKilled(script, args, (line) => {
    const msg = JSON.parse(line) as T | { ready: true };
    if ('ready' in msg) return false;
    acks.push(msg as T);
    return acks.length === killAfter;
  });
  return acks;
}

/** A seeded xorshift32 generator of integers in [0, n): a child's load pattern replays from its seed. */
export function seededInts(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/**
 * The child's side of {@link runUntilAcked}: prints `{ ready: true, position }`, then runs
 * `workers` concurrent appenders until the process is killed. Each calls `append` with a new
 * append id (unique across runs: the pid, the worker and a counter) and its worker number, and
 * prints what it resolves with (the acknowledgement) as one JSON line.
 */
export async function appendUntilKilled(position: number, append: (id: string, worker: number) => Promise<object>, workers = 16): Promise<void> {
  let appendNo = 0;
  const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
  out({ ready: true, position });
  const worker = async (w: number): Promise<void> => {
    for (;;) out(await append(`${process.pid}-${w}-${appendNo++}`, w));
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
}
