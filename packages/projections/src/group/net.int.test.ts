import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLog, isStrandError, openLog } from '@strand/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsumerGroup } from './coordinator.js';
import { GroupProtocolError } from './errors.js';
import { connectGroup, type GroupServer, MEMBER_PROTOCOL, serveGroup } from './net.js';

// Mixed versions of the member wire protocol (docs/design/0011, "Versions of the member
// protocol"): members of older releases are spoken to in their own version, members and
// coordinators with no version in common are refused with STRAND_GROUP_PROTOCOL. The old peers
// here speak the wire by hand, line by line, exactly as those releases did.

type Line = Record<string, unknown> & { t: string };

let dir: string;
let log: EventLog;
const cleanup: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-group-net-'));
  log = await openLog({ path: dir });
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  await log.close();
  await rm(dir, { recursive: true, force: true });
});

async function served(options: Parameters<typeof serveGroup>[2] = {}): Promise<{ group: ConsumerGroup; server: GroupServer; path: string }> {
  const group = await ConsumerGroup.open(log, { name: 'g', pattern: 'o/>', sessionTimeoutMs: 5000 });
  cleanup.push(() => group.close());
  const server = await serveGroup([group], { path: join(dir, 'g.sock') }, options);
  cleanup.push(() => server.close());
  return { group, server, path: join(dir, 'g.sock') };
}

/** A peer that speaks the wire by hand: every line it receives, in order, and a way to send lines. */
function wire(socket: Socket) {
  const lines: Line[] = [];
  const waiters: Array<{ check: () => boolean; resolve: () => void }> = [];
  let rest = '';
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    for (const p of parts) lines.push(JSON.parse(p) as Line);
    for (const w of waiters.splice(0)) {
      if (w.check()) w.resolve();
      else waiters.push(w);
    }
  });
  socket.on('error', () => socket.destroy());
  return {
    lines,
    ended,
    send: (msg: Line) => socket.write(`${JSON.stringify(msg)}\n`),
    /** Resolves once `check` holds (checked on every chunk received). */
    until: (check: () => boolean) => (check() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ check, resolve }))),
  };
}

async function connect(path: string) {
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  cleanup.push(() => void socket.destroy());
  return { socket, ...wire(socket) };
}

async function fill(streams: number, perStream: number): Promise<void> {
  for (let v = 0; v < perStream; v++) await log.appendMulti(Array.from({ length: streams }, (_, s) => ({ stream: `o/${s}`, events: [{ type: 'E', data: v }] })));
}

type Delivered = { stream: string; epoch: number; events: Array<{ version: number }> };

/**
 * A hand-written member: joins with `join`, acks every delivery at once (each as its own `ack`
 * line, or a tick's acks as one `acks` line when `batchAcks`), and records the versions it got
 * per stream and every line received.
 */
async function handMember(path: string, join: Line, batchAcks = false) {
  const peer = await connect(path);
  const got = new Map<string, number[]>();
  let seq = 0;
  let pending: Array<{ id: number; ref: { stream: string; epoch: number; version: number } }> = [];
  let handled = 0;
  const handle = (d: Delivered) => {
    got.set(d.stream, [...(got.get(d.stream) ?? []), ...d.events.map((e) => e.version)]);
    const a = { id: ++seq, ref: { stream: d.stream, epoch: d.epoch, version: d.events[0]!.version } };
    if (!batchAcks) peer.send({ t: 'ack', ...a });
    else {
      if (pending.length === 0) setImmediate(() => {
        peer.send({ t: 'acks', acks: pending });
        pending = [];
      });
      pending.push(a);
    }
  };
  peer.socket.on('data', () => {
    // wire() parsed the chunk first (its listener was added first): handle what is new.
    for (; handled < peer.lines.length; handled++) {
      const m = peer.lines[handled]!;
      if (m.t === 'd') handle(m.d as Delivered);
      else if (m.t === 'ds') for (const d of m.ds as Delivered[]) handle(d);
    }
  });
  peer.send(join);
  await peer.until(() => peer.lines.length > 0);
  return { ...peer, got, acksSent: () => seq };
}

const inOrder = (got: Map<string, number[]>, streams: number, perStream: number) => {
  for (let s = 0; s < streams; s++) expect(got.get(`o/${s}`), `versions of o/${s}`).toEqual(Array.from({ length: perStream }, (_, i) => i + 1));
};
/** Ack replies received (one per `acked`, one per id of an `oks`). */
const replies = (lines: Line[]) => lines.reduce((n, l) => n + (l.t === 'acked' ? 1 : l.t === 'oks' ? (l.ids as number[]).length : 0), 0);
const types = (lines: Line[]) => new Set(lines.map((l) => l.t));

describe('member protocol versions (coordinator side)', () => {
  const streams = 60;
  const perStream = 3;

  it('batches for a member that offered the batch capability (the control for the tests below)', async () => {
    const { group, path } = await served();
    await fill(streams, perStream);
    const m = await handMember(path, { t: 'join', group: 'g', credits: 16, v: 2, vmin: 1, caps: ['batch'] }, true);
    await group.drained();
    await m.until(() => replies(m.lines) === m.acksSent());
    expect(m.lines[0]).toMatchObject({ t: 'joined', v: 2, caps: ['batch'] });
    // This workload makes runs: a pump hands a member several deliveries in one tick.
    expect(types(m.lines).has('ds')).toBe(true);
    inOrder(m.got, streams, perStream);
  });

  it('speaks version 1 to a member of a release before versioning: one message a line, nothing batched', async () => {
    const { group, path } = await served();
    await fill(streams, perStream);
    // The join of those releases: no v, no caps.
    const m = await handMember(path, { t: 'join', group: 'g', credits: 16 });
    await group.drained();
    await m.until(() => replies(m.lines) === m.acksSent());
    expect(m.lines[0]).toEqual({ t: 'joined', member: expect.any(String), sessionTimeoutMs: 5000 });
    expect([...types(m.lines)].sort()).toEqual(['acked', 'd', 'joined']);
    inOrder(m.got, streams, perStream);
  });

  it('accepts the batched acks of the release that batched before versioning, and answers it in version 1', async () => {
    const { group, path } = await served();
    await fill(streams, perStream);
    // That release joined without v but sent runs of acks as one `acks` line.
    const m = await handMember(path, { t: 'join', group: 'g', credits: 16 }, true);
    await group.drained();
    await m.until(() => replies(m.lines) === m.acksSent());
    expect([...types(m.lines)].sort()).toEqual(['acked', 'd', 'joined']);
    expect(m.lines.filter((l) => l.t === 'acked' && l.error !== undefined)).toEqual([]);
    inOrder(m.got, streams, perStream);
  });

  it('uses only the capabilities both offer: a version 2 member without batch gets one message a line', async () => {
    const { group, path } = await served();
    await fill(streams, perStream);
    const m = await handMember(path, { t: 'join', group: 'g', credits: 16, v: 2, vmin: 2, caps: ['zstd-from-the-future'] });
    await group.drained();
    await m.until(() => replies(m.lines) === m.acksSent());
    expect(m.lines[0]).toMatchObject({ t: 'joined', v: 2, caps: [] });
    expect([...types(m.lines)].sort()).toEqual(['acked', 'd', 'joined']);
    inOrder(m.got, streams, perStream);
  });

  it('speaks the highest version both speak to a member newer than itself', async () => {
    const { path } = await served();
    const m = await handMember(path, { t: 'join', group: 'g', credits: 4, v: MEMBER_PROTOCOL.max + 3, vmin: 1, caps: ['batch', 'later'] });
    expect(m.lines[0]).toMatchObject({ t: 'joined', v: MEMBER_PROTOCOL.max, caps: ['batch'] });
  });

  it('refuses a member with no version in common with STRAND_GROUP_PROTOCOL, says to upgrade the coordinator, and hangs up', async () => {
    const { group, path } = await served();
    const future = { min: MEMBER_PROTOCOL.max + 1, max: MEMBER_PROTOCOL.max + 2 };
    const m = await handMember(path, { t: 'join', group: 'g', credits: 4, v: future.max, vmin: future.min, caps: ['batch'] });
    expect(m.lines[0]!.t).toBe('error');
    await m.ended;
    expect(m.lines).toHaveLength(1);
    const error = m.lines[0]!.error as { code: string; message: string; details: unknown };
    expect(error.code).toBe('STRAND_GROUP_PROTOCOL');
    expect(error.message).toMatch(/Upgrade the coordinator/);
    expect(error.details).toEqual({ group: 'g', member: future, coordinator: { min: MEMBER_PROTOCOL.min, max: MEMBER_PROTOCOL.max } });
    expect(group.status().members).toEqual([]);
  });

  it('refuses members older than minProtocol and says to upgrade the member; this release still joins', async () => {
    const { group, path } = await served({ minProtocol: 2 });
    const old = await handMember(path, { t: 'join', group: 'g', credits: 4 });
    expect(old.lines[0]!.t).toBe('error');
    await old.ended;
    const error = old.lines[0]!.error as { code: string; message: string };
    expect(error.code).toBe('STRAND_GROUP_PROTOCOL');
    expect(error.message).toMatch(/Upgrade the member/);
    expect(group.status().members).toEqual([]);
    await fill(5, 2);
    const seen: string[] = [];
    const member = await connectGroup({ path }, 'g', (d) => void seen.push(`${d.stream}@${d.events[0]!.version}`), { credits: 4 });
    cleanup.push(() => member.close());
    expect(member.protocol).toEqual({ version: 2, caps: ['batch'] });
    await group.drained();
    expect(seen.sort()).toEqual(Array.from({ length: 5 }, (_, s) => [`o/${s}@1`, `o/${s}@2`]).flat().sort());
    await expect(serveGroup([group], { path: join(dir, 'other.sock') }, { minProtocol: MEMBER_PROTOCOL.max + 1 })).rejects.toSatisfy((e) => isStrandError(e, 'STRAND_INVALID_ARGUMENT'));
  });
});

/**
 * A hand-written coordinator: answers a join with `joined` (fields as given), then sends one
 * delivery of each of `streams` streams in one write (as separate `d` lines, like version 1),
 * and records every line it receives.
 */
async function handCoordinator(joinedExtra: Record<string, unknown> | ((join: Line) => Line), streams = 6) {
  const path = join(dir, 'fake.sock');
  const received: Line[] = [];
  const sockets = new Set<Socket>();
  let onAck: (() => void) | undefined;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const peer = wire(socket);
    let handled = 0;
    socket.on('data', () => {
      for (; handled < peer.lines.length; handled++) {
        const m = peer.lines[handled]!;
        received.push(m);
        if (m.t === 'join') {
          if (typeof joinedExtra === 'function') {
            peer.send(joinedExtra(m));
            socket.end();
            continue;
          }
          peer.send({ t: 'joined', member: 'g.1.1', sessionTimeoutMs: 5000, ...joinedExtra });
          socket.write(Array.from({ length: streams }, (_, s) => `${JSON.stringify({ t: 'd', d: { stream: `o/${s}`, epoch: 7, attempt: 1, events: [{ stream: `o/${s}`, version: 1, position: s + 1, type: 'E', data: null }] } })}\n`).join(''));
        } else if (m.t === 'ack') peer.send({ t: 'acked', id: m.id as number });
        else if (m.t === 'acks') peer.send({ t: 'oks', ids: (m.acks as Array<{ id: number }>).map((a) => a.id) });
        onAck?.();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const acked = () => received.flatMap((m) => (m.t === 'ack' ? [m] : m.t === 'acks' ? (m.acks as Line[]) : [])).length;
  return {
    path,
    received,
    /** Resolves once `n` acks arrived. */
    acks: (n: number) => (acked() >= n ? Promise.resolve() : new Promise<void>((resolve) => (onAck = () => acked() >= n && resolve()))),
  };
}

describe('member protocol versions (member side)', () => {
  it('batches its acks for a coordinator that agreed to batch (the control for the test below)', async () => {
    const fake = await handCoordinator({ v: 2, caps: ['batch'] });
    const member = await connectGroup({ path: fake.path }, 'g', () => {});
    cleanup.push(() => member.close());
    expect(member.protocol).toEqual({ version: 2, caps: ['batch'] });
    await fake.acks(6);
    expect(fake.received.some((m) => m.t === 'acks')).toBe(true);
  });

  it('speaks version 1 to a coordinator of a release before versioning: no acks line, which it would not know', async () => {
    const fake = await handCoordinator({});
    const member = await connectGroup({ path: fake.path }, 'g', () => {});
    cleanup.push(() => member.close());
    expect(member.protocol).toEqual({ version: 1, caps: [] });
    await fake.acks(6);
    // Its join offered versions and capabilities (fields an old coordinator ignores).
    expect(fake.received[0]).toEqual({ t: 'join', group: 'g', v: MEMBER_PROTOCOL.max, vmin: MEMBER_PROTOCOL.min, caps: ['batch'] });
    expect([...types(fake.received)].sort()).toEqual(['ack', 'join']);
  });

  it('refuses a coordinator that answers with a version it does not speak (STRAND_GROUP_PROTOCOL)', async () => {
    const fake = await handCoordinator({ v: MEMBER_PROTOCOL.max + 5, caps: [] });
    const error = await connectGroup({ path: fake.path }, 'g', () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroupProtocolError);
    expect(isStrandError(error, 'STRAND_GROUP_PROTOCOL')).toBe(true);
    expect((error as GroupProtocolError).kind).toBe('invalid');
    expect((error as Error).message).toMatch(/Upgrade the member/);
  });

  it("turns a coordinator's refusal into GroupProtocolError with the coordinator's facts", async () => {
    // The refusal line exactly as this release's coordinator writes it (captured from a real one).
    const { path } = await served({ minProtocol: 2 });
    const old = await handMember(path, { t: 'join', group: 'g', credits: 4 });
    expect(old.lines[0]!.t).toBe('error');
    await old.ended;
    const refusal = old.lines[0]!;
    const fake = await handCoordinator(() => refusal);
    const error = await connectGroup({ path: fake.path }, 'g', () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroupProtocolError);
    expect((error as GroupProtocolError).details).toEqual({ group: 'g', member: { min: 1, max: 1 }, coordinator: { min: 2, max: MEMBER_PROTOCOL.max } });
  });
});
