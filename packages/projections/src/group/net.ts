/**
 * Members in other processes: the coordinator serves its groups over a socket (TCP or a Unix
 * socket), one connection per member, newline-delimited JSON. The messages are the five of a
 * {@link MemberSession}: join, heartbeat, ack (with optional effects), nack, leave. A closed
 * connection expires its member at once. Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { InvalidArgumentError, isStrandError } from '@strand/core';
import type { AckEffects, ConsumerGroup, GroupHandler, MemberSession } from './coordinator.js';
import { GroupClosedError, MemberExpiredError, StaleLeaseError } from './errors.js';
import type { Delivery, DeliveryRef } from './state.js';

/** Where a group server listens: a TCP port (and host), or a Unix socket path. */
export type GroupAddress = { port: number; host?: string } | { path: string };

/** A running group server. */
export interface GroupServer {
  /** The address it listens on (with the port chosen when 0 was asked for). */
  readonly address: GroupAddress;
  /** Stops accepting members and drops the connected ones (their leases move). */
  close(): Promise<void>;
}

type ClientMessage =
  | { t: 'join'; group: string; credits?: number }
  | { t: 'hb' }
  | { t: 'ack'; id: number; ref: DeliveryRef; appends?: AckEffects['appends'] }
  | { t: 'acks'; acks: Array<{ id: number; ref: DeliveryRef; appends?: AckEffects['appends'] }> }
  | { t: 'nack'; ref: DeliveryRef; error: string; delayMs?: number }
  | { t: 'leave' }
  | { t: 'admin'; id: number; group: string; op: AdminOp; stream?: string };

/** What {@link adminGroup} can ask a running coordinator. */
export type AdminOp = 'status' | 'parked' | 'retry' | 'skip';

type ServerMessage =
  | { t: 'admin'; id: number; result?: unknown; error?: { code: string; message: string } }
  | { t: 'joined'; member: string; sessionTimeoutMs: number }
  | { t: 'd'; d: Delivery }
  | { t: 'ds'; ds: Delivery[] }
  | { t: 'acked'; id: number; error?: { code: string; message: string } }
  | { t: 'oks'; ids: number[] }
  | { t: 'error'; error: { code: string; message: string } };

type Message = ServerMessage | ClientMessage;

/**
 * The messages of one tick leave in one write, and runs of deliveries, acks and successful ack
 * replies travel as one line each (`ds`, `acks`, `oks`): a pump's deliveries to a member, the
 * acks of handlers whose timers fired together, the replies of one checkpoint write. Order is
 * kept: a run is only what is consecutive.
 */
const outboxes = new WeakMap<Socket, Message[]>();
const send = (socket: Socket, msg: Message): void => {
  let box = outboxes.get(socket);
  if (box === undefined) {
    box = [];
    outboxes.set(socket, box);
  }
  if (box.length === 0) setImmediate(flush, socket);
  box.push(msg);
};
const runKind = (m: Message): 'd' | 'ack' | 'ok' | undefined => (m.t === 'd' ? 'd' : m.t === 'ack' ? 'ack' : m.t === 'acked' && m.error === undefined ? 'ok' : undefined);
function flush(socket: Socket): void {
  const box = outboxes.get(socket);
  if (box === undefined || box.length === 0) return;
  outboxes.set(socket, []);
  if (socket.destroyed) return;
  let out = '';
  for (let i = 0; i < box.length; ) {
    const kind = runKind(box[i]!);
    let j = i + 1;
    if (kind !== undefined) while (j < box.length && runKind(box[j]!) === kind) j++;
    let msg: Message = box[i]!;
    if (j - i > 1) {
      const run = box.slice(i, j);
      if (kind === 'd') msg = { t: 'ds', ds: run.map((m) => (m as { d: Delivery }).d) };
      else if (kind === 'ack') msg = { t: 'acks', acks: run.map((m) => { const { id, ref, appends } = m as { id: number; ref: DeliveryRef; appends?: AckEffects['appends'] }; return { id, ref, appends }; }) };
      else msg = { t: 'oks', ids: run.map((m) => (m as { id: number }).id) };
    }
    out += `${JSON.stringify(msg)}\n`;
    i = j;
  }
  socket.write(out);
}

/** Calls `onLine` with each newline-terminated line the socket receives (UTF-8), in order. */
function onLines(socket: Socket, onLine: (line: string) => void): void {
  let rest: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      const line = buf.toString('utf8', start, nl);
      start = nl + 1;
      onLine(line);
    }
    rest = start < buf.length ? buf.subarray(start) : undefined;
  });
}
const describeError = (error: unknown) => ({ code: isStrandError(error) ? error.code : 'STRAND_INTERNAL', message: String((error as Error)?.message ?? error) });

/**
 * Serves groups to members in other processes.
 *
 * @example
 * ```ts
 * const group = await ConsumerGroup.open(log, { name: 'billing', pattern: 'orders/>' });
 * const server = await serveGroup([group], { port: 7070 });
 * // elsewhere: await connectGroup({ port: 7070 }, 'billing', handler);
 * ```
 */
export async function serveGroup(groups: readonly ConsumerGroup[], address: GroupAddress): Promise<GroupServer> {
  if (!Array.isArray(groups) || groups.length === 0) throw new InvalidArgumentError('serveGroup needs at least one ConsumerGroup.');
  const byName = new Map(groups.map((g) => [g.name, g]));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let session: MemberSession | undefined;
    let group: ConsumerGroup | undefined;
    const onMessage = async (msg: ClientMessage) => {
      if (msg.t === 'admin') {
        try {
          const g = byName.get(msg.group);
          if (g === undefined) throw new InvalidArgumentError(`No group named ${msg.group} here (serving ${[...byName.keys()].join(', ')}).`);
          let result: unknown;
          if (msg.op === 'status') result = g.status();
          else if (msg.op === 'parked') result = g.parked();
          else if (msg.op === 'retry' || msg.op === 'skip') {
            if (typeof msg.stream !== 'string') throw new InvalidArgumentError(`${msg.op} needs a stream.`);
            result = msg.op === 'retry' ? await g.retry(msg.stream) : await g.skip(msg.stream);
          } else throw new InvalidArgumentError(`Unknown admin operation ${String(msg.op)}.`);
          send(socket, { t: 'admin', id: msg.id, result });
        } catch (error) {
          send(socket, { t: 'admin', id: msg.id, error: describeError(error) });
        }
        return;
      }
      if (msg.t === 'join') {
        group = byName.get(msg.group);
        if (group === undefined) throw new InvalidArgumentError(`No group named ${msg.group} here (serving ${[...byName.keys()].join(', ')}).`);
        if (session !== undefined) throw new InvalidArgumentError('This connection has joined already.');
        session = group.join((d) => send(socket, { t: 'd', d }), { credits: msg.credits });
        send(socket, { t: 'joined', member: session.id, sessionTimeoutMs: group.tuning.sessionTimeoutMs });
        return;
      }
      if (session === undefined) throw new InvalidArgumentError('Join first.');
      if (msg.t === 'hb') session.heartbeat();
      else if (msg.t === 'nack') session.nack(msg.ref, msg.error, msg.delayMs);
      else if (msg.t === 'leave') session.leave();
      else if (msg.t === 'ack') await ack(session, msg);
      else if (msg.t === 'acks') await Promise.all(msg.acks.map((a) => ack(session!, a)));
    };
    const ack = async (member: MemberSession, a: { id: number; ref: DeliveryRef; appends?: AckEffects['appends'] }) => {
      try {
        await member.ack(a.ref, a.appends === undefined ? undefined : { appends: a.appends });
        send(socket, { t: 'acked', id: a.id });
      } catch (error) {
        send(socket, { t: 'acked', id: a.id, error: describeError(error) });
      }
    };
    // A member killed mid-write resets its connection: the socket's close handler below cleans up.
    onLines(socket, (line) => {
      let msg: ClientMessage;
      try {
        msg = JSON.parse(line) as ClientMessage;
      } catch {
        socket.destroy();
        return;
      }
      onMessage(msg).catch((error: unknown) => {
        if (!socket.destroyed) send(socket, { t: 'error', error: describeError(error) });
      });
    });
    const gone = () => {
      sockets.delete(socket);
      // Its deliveries cannot be acked any more: its leases move now.
      session?.expire();
      session = undefined;
    };
    socket.on('close', gone);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in address) server.listen(address.path, resolve);
    else server.listen(address.port, address.host ?? '127.0.0.1', resolve);
  });
  const bound = server.address();
  const actual: GroupAddress = typeof bound === 'string' || bound === null ? { path: String(bound ?? (address as { path: string }).path) } : { port: bound.port, host: bound.address };
  return {
    address: actual,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A member in this process of a group served elsewhere. */
export interface RemoteMember {
  /** Its id in the group. */
  readonly id: string;
  /** Resolves when the connection closes (the coordinator went away, or `close`). */
  readonly closed: Promise<void>;
  /** Leaves gracefully: finishes its deliveries in flight, then closes. */
  leave(): Promise<void>;
  /** Closes the connection at once (its leases move to other members). */
  close(): void;
}

function toError(group: string, e: { code: string; message: string }): Error {
  if (e.code === 'STRAND_GROUP_STALE_LEASE') return Object.assign(new StaleLeaseError(group, '?', 0, e.message), { message: e.message });
  if (e.code === 'STRAND_GROUP_MEMBER_EXPIRED') return new MemberExpiredError(group, '?');
  if (e.code === 'STRAND_GROUP_CLOSED') return new GroupClosedError(group);
  return Object.assign(new Error(e.message), { code: e.code });
}

/**
 * Joins a group served by {@link serveGroup} and runs `handler` on each delivery: returning acks
 * it (returning `{ appends }` commits them with the ack, exactly once), throwing nacks it.
 */
export async function connectGroup(address: GroupAddress, group: string, handler: GroupHandler, options: { credits?: number } = {}): Promise<RemoteMember> {
  if (typeof handler !== 'function') throw new InvalidArgumentError('connectGroup needs a handler function.');
  const socket = 'path' in address ? createConnection(address.path) : createConnection(address.port, address.host ?? '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let ackSeq = 0;
  const pendingAcks = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  let inflight = 0;
  let idle: (() => void) | undefined;
  let beat: NodeJS.Timeout | undefined;
  let closedResolve!: () => void;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  const settle = (id: number, error?: { code: string; message: string }) => {
    const p = pendingAcks.get(id);
    pendingAcks.delete(id);
    if (error) p?.reject(toError(group, error));
    else p?.resolve();
  };
  const joined = new Promise<{ member: string; sessionTimeoutMs: number }>((resolve, reject) => {
    onLines(socket, (line) => {
      const msg = JSON.parse(line) as ServerMessage;
      if (msg.t === 'd') void run(msg.d);
      else if (msg.t === 'ds') for (const d of msg.ds) void run(d);
      else if (msg.t === 'oks') for (const id of msg.ids) settle(id);
      else if (msg.t === 'acked') settle(msg.id, msg.error);
      else if (msg.t === 'joined') resolve(msg);
      else if (msg.t === 'error') reject(toError(group, msg.error));
    });
  });
  const run = async (d: Delivery) => {
    inflight++;
    const ref: DeliveryRef = { stream: d.stream, epoch: d.epoch, version: d.events[0]!.version };
    try {
      let result: void | AckEffects;
      try {
        result = await handler(d);
      } catch (error) {
        if (!socket.destroyed) send(socket, { t: 'nack', ref, error: String((error as Error)?.message ?? error) });
        return;
      }
      if (socket.destroyed) return;
      const id = ++ackSeq;
      const acked = new Promise<void>((resolve, reject) => pendingAcks.set(id, { resolve, reject }));
      send(socket, { t: 'ack', id, ref, appends: result?.appends });
      await acked.catch((error: unknown) => {
        if (!isStrandError(error, 'STRAND_GROUP_STALE_LEASE') && !isStrandError(error, 'STRAND_GROUP_CLOSED') && !socket.destroyed) {
          send(socket, { t: 'nack', ref, error: String((error as Error)?.message ?? error) });
        }
      });
    } finally {
      inflight--;
      if (inflight === 0) idle?.();
    }
  };
  socket.on('close', () => {
    if (beat) clearInterval(beat);
    for (const p of pendingAcks.values()) p.reject(new GroupClosedError(group));
    pendingAcks.clear();
    closedResolve();
  });
  socket.on('error', () => socket.destroy());
  send(socket, { t: 'join', group, credits: options.credits });
  const { member, sessionTimeoutMs } = await joined;
  beat = setInterval(() => send(socket, { t: 'hb' }), Math.max(5, Math.floor(sessionTimeoutMs / 3)));
  return {
    id: member,
    closed,
    leave: async () => {
      if (socket.destroyed) return;
      send(socket, { t: 'leave' });
      if (inflight > 0) await new Promise<void>((resolve) => (idle = resolve));
      // What this tick queued (the leave, the last acks) goes out before the end.
      flush(socket);
      socket.end();
      await closed;
    },
    close: () => socket.destroy(),
  };
}

/**
 * Asks a running coordinator about a group, or to retry or skip one of its parked streams:
 * `status` resolves a `GroupStatus`, `parked` the parked streams, `retry`/`skip` whether the
 * stream was parked. What `strand group --connect` uses.
 */
export async function adminGroup(address: GroupAddress, group: string, op: AdminOp, stream?: string): Promise<unknown> {
  const socket = 'path' in address ? createConnection(address.path) : createConnection(address.port, address.host ?? '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const reply = new Promise<ServerMessage>((resolve, reject) => {
      onLines(socket, (line) => resolve(JSON.parse(line) as ServerMessage));
      socket.once('close', () => reject(new GroupClosedError(group)));
    });
    send(socket, { t: 'admin', id: 1, group, op, stream });
    const msg = await reply;
    if (msg.t !== 'admin') throw new GroupClosedError(group);
    if (msg.error) throw toError(group, msg.error);
    return msg.result;
  } finally {
    socket.destroy();
  }
}
