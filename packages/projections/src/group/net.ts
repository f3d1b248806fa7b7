/**
 * Members in other processes: the coordinator serves its groups over a socket (TCP or a Unix
 * socket), one connection per member, newline-delimited JSON. The messages are the five of a
 * {@link MemberSession}: join, heartbeat, ack (with optional effects), nack, leave. A closed
 * connection expires its member at once. The join negotiates a protocol version and optional
 * capabilities (see {@link MEMBER_PROTOCOL}). Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { InvalidArgumentError, isStrandError } from '@strand/core';
import type { ConsumerGroup } from './coordinator.js';
import type { Delivery, DeliveryRef } from './delivery.js';
import { GroupClosedError, GroupProtocolError, MemberExpiredError, type ProtocolRange, StaleLeaseError } from './errors.js';
import type { AckEffects, GroupHandler, MemberSession } from './member.js';

/**
 * The member protocol versions this release speaks, and the optional capabilities it offers.
 * Docs: docs/design/0011, "Versions of the member protocol".
 * - Version 1: the messages of the releases before versioning; a join without `v` is version 1.
 *   One message per line, nothing batched.
 * - Version 2: the join carries `v` (the highest version the member speaks), `vmin` (its lowest)
 *   and `caps` (the capabilities it offers); `joined` answers with the version chosen (the highest
 *   both speak) and the capabilities both offer. A peer uses a capability only when `joined` lists
 *   it. Capability `batch`: runs of deliveries, acks and ack replies travel as one line each
 *   (`ds`, `acks`, `oks`).
 */
export const MEMBER_PROTOCOL: { readonly min: number; readonly max: number; readonly caps: readonly string[] } = Object.freeze({ min: 1, max: 2, caps: Object.freeze(['batch']) });

/** Where a group server listens: a TCP port (and host), or a Unix socket path. */
export type GroupAddress = { port: number; host?: string } | { path: string };

/** A running group server. */
export interface GroupServer {
  /** The address it listens on (with the port chosen when 0 was asked for). */
  readonly address: GroupAddress;
  /** Stops accepting members and drops the connected ones (their leases move). */
  close(): Promise<void>;
}

/** Options of {@link serveGroup}. */
export interface ServeGroupOptions {
  /**
   * The oldest member protocol version served (default 1: every release's members). Members that
   * speak only older versions are refused with `STRAND_GROUP_PROTOCOL`.
   */
  minProtocol?: number;
}

type WireError = { code: string; message: string; details?: Record<string, unknown> };
type WireAck = { id: number; ref: DeliveryRef; appends?: AckEffects['appends'] };

/** What members send. The coordinator accepts every message of every version it speaks, whatever was negotiated. */
type ClientMessage =
  | { t: 'join'; group: string; credits?: number; v?: number; vmin?: number; caps?: string[] }
  | { t: 'hb' }
  | ({ t: 'ack' } & WireAck)
  | { t: 'acks'; acks: WireAck[] }
  | { t: 'nack'; ref: DeliveryRef; error: string; delayMs?: number }
  | { t: 'leave' }
  | { t: 'admin'; id: number; group: string; op: AdminOp; stream?: string };

/** What {@link adminGroup} can ask a running coordinator. */
export type AdminOp = 'status' | 'parked' | 'retry' | 'skip';

/** What the coordinator sends. A member accepts every message of every version it speaks. */
type ServerMessage =
  | { t: 'admin'; id: number; result?: unknown; error?: WireError }
  | { t: 'joined'; member: string; sessionTimeoutMs: number; v?: number; caps?: string[] }
  | { t: 'd'; d: Delivery }
  | { t: 'ds'; ds: Delivery[] }
  | { t: 'acked'; id: number; error?: WireError }
  | { t: 'oks'; ids: number[] }
  | { t: 'error'; error: WireError };

type Message = ServerMessage | ClientMessage;

/**
 * A socket's messages not yet written. The messages of one tick leave in one write; with the
 * `batch` capability agreed, runs of deliveries, acks and successful ack replies travel as one
 * line each (`ds`, `acks`, `oks`): a pump's deliveries to a member, the acks of handlers whose
 * timers fired together, the replies of one checkpoint write. Order is kept: a run is only what
 * is consecutive. Without it (a version 1 peer, or one that did not offer it) one message a line.
 */
interface Outbox {
  msgs: Message[];
  batch: boolean;
}
const outboxes = new WeakMap<Socket, Outbox>();
const outbox = (socket: Socket): Outbox => {
  let box = outboxes.get(socket);
  if (box === undefined) {
    box = { msgs: [], batch: false };
    outboxes.set(socket, box);
  }
  return box;
};
const send = (socket: Socket, msg: Message): void => {
  const box = outbox(socket);
  if (box.msgs.length === 0) setImmediate(flush, socket);
  box.msgs.push(msg);
};
const runKind = (m: Message): 'd' | 'ack' | 'ok' | undefined => (m.t === 'd' ? 'd' : m.t === 'ack' ? 'ack' : m.t === 'acked' && m.error === undefined ? 'ok' : undefined);
function flush(socket: Socket): void {
  const box = outboxes.get(socket);
  if (box === undefined || box.msgs.length === 0) return;
  const msgs = box.msgs;
  box.msgs = [];
  if (socket.destroyed) return;
  let out = '';
  for (let i = 0; i < msgs.length; ) {
    const kind = box.batch ? runKind(msgs[i]!) : undefined;
    let j = i + 1;
    if (kind !== undefined) while (j < msgs.length && runKind(msgs[j]!) === kind) j++;
    let msg: Message = msgs[i]!;
    if (j - i > 1) {
      const run = msgs.slice(i, j);
      if (kind === 'd') msg = { t: 'ds', ds: run.map((m) => (m as { d: Delivery }).d) };
      else if (kind === 'ack') msg = { t: 'acks', acks: run.map((m) => { const { id, ref, appends } = m as WireAck; return { id, ref, appends }; }) };
      else msg = { t: 'oks', ids: run.map((m) => (m as { id: number }).id) };
    }
    out += `${JSON.stringify(msg)}\n`;
    i = j;
  }
  socket.write(out);
}

/** The version both speak, or undefined. */
function negotiate(member: ProtocolRange, coordinator: ProtocolRange): number | undefined {
  const v = Math.min(member.max, coordinator.max);
  return v >= member.min && v >= coordinator.min ? v : undefined;
}

/** The versions a join says its member speaks (a join without `v` is version 1); undefined if malformed. */
function joinRange(msg: { v?: unknown; vmin?: unknown }): ProtocolRange | undefined {
  if (msg.v === undefined) return { min: 1, max: 1 };
  const max = msg.v;
  const min = msg.vmin ?? msg.v;
  if (typeof max !== 'number' || typeof min !== 'number' || !Number.isSafeInteger(max) || !Number.isSafeInteger(min) || min < 1 || min > max) return undefined;
  return { min, max };
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
const describeError = (error: unknown): WireError => {
  const message = String((error as Error)?.message ?? error);
  if (!isStrandError(error)) return { code: 'STRAND_INTERNAL', message };
  // Details travel for the errors a member rebuilds from them.
  return error.code === 'STRAND_GROUP_PROTOCOL' ? { code: error.code, message, details: error.details } : { code: error.code, message };
};

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
export async function serveGroup(groups: readonly ConsumerGroup[], address: GroupAddress, options: ServeGroupOptions = {}): Promise<GroupServer> {
  if (!Array.isArray(groups) || groups.length === 0) throw new InvalidArgumentError('serveGroup needs at least one ConsumerGroup.');
  const minProtocol = options.minProtocol ?? MEMBER_PROTOCOL.min;
  if (!Number.isSafeInteger(minProtocol) || minProtocol < MEMBER_PROTOCOL.min || minProtocol > MEMBER_PROTOCOL.max) {
    throw new InvalidArgumentError(`minProtocol must be an integer from ${MEMBER_PROTOCOL.min} to ${MEMBER_PROTOCOL.max} (the member protocol versions this release speaks).`);
  }
  const served: ProtocolRange = { min: minProtocol, max: MEMBER_PROTOCOL.max };
  const byName = new Map(groups.map((g) => [g.name, g]));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let session: MemberSession | undefined;
    const admin = async (msg: Extract<ClientMessage, { t: 'admin' }>) => {
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
    };
    /** Handles one message; a member's messages are handled in the turn they arrive (throws are answered with `error`). */
    const onMessage = (msg: ClientMessage): void => {
      if (msg.t === 'admin') {
        void admin(msg);
        return;
      }
      if (msg.t === 'join') {
        if (session !== undefined) throw new InvalidArgumentError('This connection has joined already.');
        const g = byName.get(msg.group);
        if (g === undefined) throw new InvalidArgumentError(`No group named ${msg.group} here (serving ${[...byName.keys()].join(', ')}).`);
        const theirs = joinRange(msg);
        if (theirs === undefined) throw new InvalidArgumentError(`A join's v and vmin are integers with 1 <= vmin <= v; got v ${JSON.stringify(msg.v)}, vmin ${JSON.stringify(msg.vmin)}.`);
        const v = negotiate(theirs, served);
        if (v === undefined) {
          // Refused: say why, then hang up (the member's join fails with the same typed error).
          send(socket, { t: 'error', error: describeError(new GroupProtocolError(g.name, theirs, served)) });
          flush(socket);
          socket.end();
          return;
        }
        // Version 1 members get version 1's messages only; capabilities are what both offer.
        const caps = v >= 2 && Array.isArray(msg.caps) ? MEMBER_PROTOCOL.caps.filter((c) => msg.caps!.includes(c)) : [];
        outbox(socket).batch = caps.includes('batch');
        const joined = g.join((d: Delivery) => send(socket, { t: 'd', d }), { credits: msg.credits });
        session = joined;
        const reply = { t: 'joined', member: joined.id, sessionTimeoutMs: g.tuning.sessionTimeoutMs } as const;
        send(socket, v >= 2 ? { ...reply, v, caps } : reply);
        return;
      }
      if (session === undefined) throw new InvalidArgumentError('Join first.');
      if (msg.t === 'hb') session.heartbeat();
      else if (msg.t === 'nack') session.nack(msg.ref, msg.error, msg.delayMs);
      else if (msg.t === 'leave') session.leave();
      else if (msg.t === 'ack') ack(session, [msg]);
      else if (msg.t === 'acks') ack(session, msg.acks);
    };
    /**
     * Acks that become durable with the same checkpoint write share one promise: one reply
     * callback per run of them, not a promise and a callback per ack.
     */
    const ack = (member: MemberSession, acks: readonly WireAck[]) => {
      let last: Promise<void> | undefined;
      let ids: number[] = [];
      for (const a of acks) {
        let p: Promise<void>;
        try {
          p = member.ack(a.ref, a.appends === undefined ? undefined : { appends: a.appends });
        } catch (error) {
          p = Promise.reject(error);
        }
        if (p !== last) {
          if (last !== undefined) reply(last, ids);
          last = p;
          ids = [];
        }
        ids.push(a.id);
      }
      if (last !== undefined) reply(last, ids);
    };
    const reply = (durable: Promise<void>, ids: readonly number[]) =>
      durable.then(
        () => {
          for (const id of ids) send(socket, { t: 'acked', id });
        },
        (error: unknown) => {
          const e = describeError(error);
          for (const id of ids) send(socket, { t: 'acked', id, error: e });
        },
      );
    // A member killed mid-write resets its connection: the socket's close handler below cleans up.
    onLines(socket, (line) => {
      let msg: ClientMessage;
      try {
        msg = JSON.parse(line) as ClientMessage;
      } catch {
        socket.destroy();
        return;
      }
      try {
        onMessage(msg);
      } catch (error) {
        if (!socket.destroyed) send(socket, { t: 'error', error: describeError(error) });
      }
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
  /** The member protocol version and capabilities agreed with the coordinator at the join. */
  readonly protocol: { readonly version: number; readonly caps: readonly string[] };
  /** Resolves when the connection closes (the coordinator went away, or `close`). */
  readonly closed: Promise<void>;
  /** Leaves gracefully: finishes its deliveries in flight, then closes. */
  leave(): Promise<void>;
  /** Closes the connection at once (its leases move to other members). */
  close(): void;
}

function toError(group: string, e: WireError): Error {
  if (e.code === 'STRAND_GROUP_STALE_LEASE') return Object.assign(new StaleLeaseError(group, '?', 0, e.message), { message: e.message });
  if (e.code === 'STRAND_GROUP_MEMBER_EXPIRED') return new MemberExpiredError(group, '?');
  if (e.code === 'STRAND_GROUP_CLOSED') return new GroupClosedError(group);
  if (e.code === 'STRAND_GROUP_PROTOCOL') {
    const d = e.details as { member?: ProtocolRange; coordinator?: ProtocolRange } | undefined;
    if (d?.member !== undefined && d.coordinator !== undefined) return new GroupProtocolError(group, d.member, d.coordinator);
  }
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
  /** Acks sent and not answered yet, by id: the delivery each one acks. */
  const pendingAcks = new Map<number, DeliveryRef>();
  let inflight = 0;
  let idle: (() => void) | undefined;
  let beat: NodeJS.Timeout | undefined;
  let closedResolve!: () => void;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  const finished = () => {
    inflight--;
    if (inflight === 0) idle?.();
  };
  const nack = (ref: DeliveryRef, error: unknown) => {
    if (!socket.destroyed) send(socket, { t: 'nack', ref, error: String((error as Error)?.message ?? error) });
  };
  /** The coordinator answered an ack: refused because the delivery is no longer ours, dropped; refused otherwise, nacked. */
  const settle = (id: number, error?: WireError) => {
    const ref = pendingAcks.get(id);
    if (ref === undefined) return;
    pendingAcks.delete(id);
    if (error !== undefined && error.code !== 'STRAND_GROUP_STALE_LEASE' && error.code !== 'STRAND_GROUP_CLOSED') nack(ref, error.message);
    finished();
  };
  const joined = new Promise<{ member: string; sessionTimeoutMs: number; version: number; caps: string[] }>((resolve, reject) => {
    socket.once('close', () => reject(new GroupClosedError(group)));
    onLines(socket, (line) => {
      const msg = JSON.parse(line) as ServerMessage;
      if (msg.t === 'd') run(msg.d);
      else if (msg.t === 'ds') for (const d of msg.ds) run(d);
      else if (msg.t === 'oks') for (const id of msg.ids) settle(id);
      else if (msg.t === 'acked') settle(msg.id, msg.error);
      else if (msg.t === 'joined') {
        // A coordinator of a release before versioning answers without v: version 1.
        const version = msg.v ?? 1;
        if (!Number.isSafeInteger(version) || version < MEMBER_PROTOCOL.min || version > MEMBER_PROTOCOL.max) {
          reject(new GroupProtocolError(group, MEMBER_PROTOCOL, { min: version, max: version }));
          socket.destroy();
          return;
        }
        const caps = version >= 2 && Array.isArray(msg.caps) ? MEMBER_PROTOCOL.caps.filter((c) => msg.caps!.includes(c)) : [];
        outbox(socket).batch = caps.includes('batch');
        resolve({ member: msg.member, sessionTimeoutMs: msg.sessionTimeoutMs, version, caps });
      } else if (msg.t === 'error') reject(toError(group, msg.error));
    });
  });
  const handled = (ref: DeliveryRef, result: void | AckEffects) => {
    if (socket.destroyed) return finished();
    const id = ++ackSeq;
    pendingAcks.set(id, ref);
    send(socket, { t: 'ack', id, ref, appends: result?.appends });
  };
  const failed = (ref: DeliveryRef, error: unknown) => {
    nack(ref, error);
    finished();
  };
  /** Runs the handler on a delivery (a handler that returns no promise is acked in the same turn). */
  const run = (d: Delivery) => {
    inflight++;
    const ref: DeliveryRef = { stream: d.stream, epoch: d.epoch, version: d.events[0]!.version };
    let out: ReturnType<GroupHandler>;
    try {
      out = handler(d);
    } catch (error) {
      return failed(ref, error);
    }
    if (out instanceof Promise || (out !== null && typeof out === 'object' && typeof (out as { then?: unknown }).then === 'function')) {
      (out as PromiseLike<void | AckEffects>).then(
        (result) => handled(ref, result),
        (error: unknown) => failed(ref, error),
      );
    } else handled(ref, out as void | AckEffects);
  };
  socket.on('close', () => {
    if (beat) clearInterval(beat);
    // Their acks can no longer be answered: the deliveries are the new holders' now.
    const unanswered = pendingAcks.size;
    pendingAcks.clear();
    for (let i = 0; i < unanswered; i++) finished();
    closedResolve();
  });
  socket.on('error', () => socket.destroy());
  send(socket, { t: 'join', group, credits: options.credits, v: MEMBER_PROTOCOL.max, vmin: MEMBER_PROTOCOL.min, caps: [...MEMBER_PROTOCOL.caps] });
  let agreed: Awaited<typeof joined>;
  try {
    agreed = await joined;
  } catch (error) {
    socket.destroy();
    throw error;
  }
  const { member, sessionTimeoutMs } = agreed;
  beat = setInterval(() => send(socket, { t: 'hb' }), Math.max(5, Math.floor(sessionTimeoutMs / 3)));
  return {
    id: member,
    protocol: Object.freeze({ version: agreed.version, caps: Object.freeze(agreed.caps) }),
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
