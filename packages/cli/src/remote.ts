/**
 * `strand --server URL ...`: the data commands (append, read, tail, streams, info, projections)
 * against a running `strand serve` through `@strand/client`, with the API key from
 * `STRAND_API_KEY`. Output and exit codes are the same as against a local log. Design:
 * docs/design/0013-server.md, "The CLI against a server".
 *
 * @module
 */
import { connect, type RemoteProjectionStatus, type StrandClient } from '@strand/client';
import { compilePattern, isStrandError, type RecordedEvent } from '@strand/core';
import { appendInput } from './append-input.js';
import { consumersTable, ExitCode, type Output, progressBar } from './output.js';

/** Runs `fn` with a client of `server` (key from `STRAND_API_KEY`), then closes it. */
export async function withServer<T>(server: string, out: Output, fn: (client: StrandClient) => Promise<T>): Promise<T> {
  const apiKey = process.env.STRAND_API_KEY;
  if (apiKey === undefined || apiKey === '') {
    out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'strand --server needs the API key in STRAND_API_KEY (the key strand serve printed, or one your tenant admin gave you).');
  }
  const client = connect({ url: server, apiKey, reconnect: { maxAttempts: 3 }, callRetries: 2 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** `strand append` against a server. */
export async function remoteAppend(client: StrandClient, out: Output, stream: string, opts: { type: string; data: string; expect: string; id?: string }): Promise<void> {
  const { event, expectedVersion } = appendInput(out, opts);
  const r = await client.append(stream, [event], { expectedVersion });
  out.object({ stream: r.stream, version: r.version, position: r.position, id: r.events[0]?.id, idempotent: r.idempotent });
}

/** `strand read` against a server. */
export async function remoteRead(client: StrandClient, out: Output, stream: string, opts: { from?: string; backwards: boolean; limit?: string }): Promise<void> {
  const info = await client.streamInfo(stream);
  if (info === undefined) out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `No stream "${stream}". List streams with: strand --server ... streams`);
  const events: RecordedEvent[] = [];
  for await (const e of client.readStream(stream, {
    ...(opts.from === undefined ? {} : { from: Number(opts.from) }),
    ...(opts.limit === undefined ? {} : { limit: Number(opts.limit) }),
    direction: opts.backwards ? 'backwards' : 'forwards',
    ifTruncated: 'skip',
  })) {
    events.push(e);
  }
  out.events(events);
}

/** `strand tail` against a server: a live subscription (no polling), until `--count` or Ctrl-C. */
export async function remoteTail(client: StrandClient, out: Output, pattern: string, opts: { from?: string; count?: string }): Promise<void> {
  compilePattern(pattern);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const max = opts.count === undefined ? Number.POSITIVE_INFINITY : Number(opts.count);
  const from = opts.from === 'start' ? 1 : opts.from === undefined || opts.from === 'end' ? ('end' as const) : Number(opts.from);
  let printed = 0;
  try {
    if (max <= 0) return;
    for await (const e of client.follow(pattern, { from, signal: abort.signal })) {
      out.event(e);
      if (++printed >= max) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `strand streams` against a server: `below` counts the streams below each entry that the key may read. */
export async function remoteStreams(client: StrandClient, out: Output, prefix: string | undefined, opts: { after?: string; limit: string }): Promise<void> {
  const page = await client.listChildren(prefix ?? '', { ...(opts.after === undefined ? {} : { after: opts.after }), limit: Number(opts.limit) });
  const rows = [];
  for (const e of page.entries) {
    const info = e.isStream ? await client.streamInfo(e.name) : undefined;
    rows.push({ name: e.name, stream: e.isStream, version: info?.version ?? '', below: e.hasChildren ? await client.countStreams(e.name, { below: true }) : 0 });
  }
  out.table(rows, ['name', 'stream', 'version', 'below'], page.next === undefined ? undefined : `more: strand --server ... streams ${prefix ?? ''} --after ${page.next}`);
}

/** `strand info` against a server. */
export async function remoteInfo(client: StrandClient, out: Output, server: string): Promise<void> {
  // A key that may not read (append or subscribe only) still sees the position.
  const streams = await client.countStreams().catch((error: unknown) => {
    if (isStrandError(error, 'STRAND_ACCESS_DENIED')) return undefined;
    throw error;
  });
  out.object({ server, ...(streams === undefined ? {} : { streams }), position: await client.headPosition() });
}

/** `strand projections` against a server: its hosted projections. */
export async function remoteProjections(client: StrandClient, out: Output, opts: { parked?: boolean }): Promise<void> {
  consumersTable(out, await client.projections().list(), {
    owner: 'projection',
    parkedOnly: opts.parked === true,
    columns: ['name', 'generation', 'position', 'head', 'lag', 'lagMs', 'parked'],
    row: (p) => ({ name: p.name, generation: p.generation, position: p.position, head: p.head, lag: p.lagEvents, lagMs: p.lagMs, parked: p.parked.length }),
  });
}

/** `strand projections retry|skip <name> <stream>` against a server. */
export async function remoteResume(client: StrandClient, out: Output, mode: 'retry' | 'skip', name: string, stream: string): Promise<void> {
  const ok = mode === 'retry' ? await client.projections().retry(name, stream) : await client.projections().skip(name, stream);
  if (!ok) out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `Stream ${stream} is not parked in projection ${name}. List parked streams with: strand --server ... projections --parked`);
  out.object({ projection: name, stream, [mode === 'retry' ? 'retried' : 'skipped']: true });
}

/**
 * `strand projections rebuild <name>` against a server: the hosted projection is rebuilt
 * blue/green in the server (the old generation serves until the new one has caught up), with a
 * progress bar and ETA on a terminal; the rebuild goes on in the server if the CLI is stopped.
 */
export async function remoteRebuild(client: StrandClient, out: Output, name: string): Promise<void> {
  // The bar runs to the head when the rebuild starts: what the new generation must reach before
  // the swap. A key that may rebuild (admin) but not read gets no bar.
  const head = await client.headPosition().catch((error: unknown) => {
    if (isStrandError(error, 'STRAND_ACCESS_DENIED')) return 0;
    throw error;
  });
  const bar = progressBar(out, `rebuild ${name}`, head);
  let s: RemoteProjectionStatus;
  try {
    s = await client.projections().rebuild(name, (p) => bar.update(Math.min(p.position, head)));
    bar.update(Math.min(s.position, head));
  } finally {
    bar.stop();
  }
  out.table([{ name, generation: s.generation, position: s.position, head: s.head }], ['name', 'generation', 'position', 'head'], `rebuilt ${name} into generation ${s.generation}`);
}
