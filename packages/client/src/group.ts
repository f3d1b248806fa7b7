/**
 * A consumer group member through a Strand server (`strand.v1.ConsumerGroupService`): joins,
 * runs a handler on each leased delivery, acks (optionally with effects committed in the same
 * commit) or nacks it, and heartbeats. When the server goes away the member finishes the
 * deliveries it holds before it joins again, so a stream never runs here and on the member that
 * took it over at the same time. Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import type { Client } from '@connectrpc/connect';
import { InvalidArgumentError, type RecordedEvent, type StreamAppend } from '@strand/core';
import { fromConnectError, fromWireEvent, type groupsWire, toWireExpected, toWireInput } from '@strand/protocol';

/** A leased delivery: events of one stream, in order, under a lease epoch. */
export interface RemoteDelivery {
  /** The stream. */
  readonly stream: string;
  /** The lease epoch (acks carry it back; refused once the lease moved). */
  readonly epoch: number;
  /** 1 for the first delivery of the first event, then +1 per retry. */
  readonly attempt: number;
  /** Contiguous versions of the stream. */
  readonly events: readonly RecordedEvent[];
}

/** A remote member's handler: returning acks (returning `{ appends }` commits them with the ack, exactly once); throwing nacks. */
export type RemoteGroupHandler = (delivery: RemoteDelivery) => void | { appends: readonly StreamAppend[] } | Promise<void | { appends: readonly StreamAppend[] }>;

/** Options of `StrandClient.joinGroup`. */
export interface JoinGroupOptions {
  /** The group's pattern (creates the group on the server on first use; must match if it exists). */
  pattern: string;
  /** Where a new group starts (default `'beginning'`). */
  start?: 'beginning' | 'end';
  /** Deliveries in flight at most (default 16). */
  credits?: number;
  /** Join again (after finishing held deliveries) when the server goes away (default true). */
  rejoin?: boolean;
  /** Called with each member id the server gives this member (a new one per join). */
  onJoin?: (memberId: string) => void;
}

/** A member of a group hosted by a server. */
export interface RemoteGroupMember {
  /** Its member id in the current session ('' while it is rejoining). */
  readonly id: string;
  /** Resolves when the member stops (leave, close, or the server went away and `rejoin` is false). */
  readonly closed: Promise<void>;
  /** Leaves gracefully: no new deliveries, the ones in flight finish and are acked; then stops. */
  leave(): Promise<void>;
  /** Stops at once: the server moves its leases (deliveries in flight are not acked). */
  close(): void;
}

/** What a member needs from the client it runs in. */
export interface GroupClientContext {
  readonly rpc: Client<typeof groupsWire.ConsumerGroupService>;
  readonly backoff: (attempt: number) => number;
  readonly isClosed: () => boolean;
  readonly aborts: Set<AbortController>;
}

/** Ack failures that mean the delivery is no longer this member's: dropped, not nacked. */
const GONE = new Set(['STRAND_GROUP_STALE_LEASE', 'STRAND_GROUP_MEMBER_EXPIRED', 'STRAND_GROUP_CLOSED', 'STRAND_SERVER_UNAVAILABLE']);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** Joins `group` through the server and runs `handler` on its deliveries; resolves once joined. */
export async function joinRemoteGroup(ctx: GroupClientContext, group: string, handler: RemoteGroupHandler, options: JoinGroupOptions): Promise<RemoteGroupMember> {
  if (typeof group !== 'string' || group === '') throw new InvalidArgumentError('joinGroup needs a group name.');
  if (typeof handler !== 'function') throw new InvalidArgumentError('joinGroup needs a handler function.');
  if (options === null || typeof options !== 'object' || typeof options.pattern !== 'string') throw new InvalidArgumentError('joinGroup needs { pattern }.');
  const credits = options.credits ?? 16;
  if (!Number.isSafeInteger(credits) || credits < 1) throw new InvalidArgumentError('credits must be an integer >= 1.');
  const rejoin = options.rejoin ?? true;
  const life = new AbortController();
  ctx.aborts.add(life);
  let memberId = '';
  let leaving = false;
  let inflight = 0;
  const idleWaiters: Array<() => void> = [];
  const idle = () => (inflight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));
  let session: AbortController | undefined;
  let firstJoin: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const joined = new Promise<void>((resolve, reject) => (firstJoin = { resolve, reject }));
  const stopped = () => life.signal.aborted || ctx.isClosed();

  const handle = async (d: RemoteDelivery, member: string) => {
    inflight++;
    const ref = { group, memberId: member, stream: d.stream, epoch: BigInt(d.epoch), version: BigInt(d.events[0]!.version) };
    try {
      let result: void | { appends: readonly StreamAppend[] };
      try {
        result = await handler(d);
      } catch (error) {
        await ctx.rpc.nackDelivery({ ...ref, error: String((error as Error)?.message ?? error) }).catch(() => undefined);
        return;
      }
      const effects = (result?.appends ?? []).map((p) => ({ stream: p.stream, events: p.events.map(toWireInput), expectedVersion: toWireExpected(p.expectedVersion), recreate: p.recreate === true }));
      try {
        await ctx.rpc.ackDelivery({ ...ref, effects });
      } catch (error) {
        const e = fromConnectError(error);
        // The lease moved (or the session ended): another member has the stream from its last ack.
        if (GONE.has(e.code)) return;
        await ctx.rpc.nackDelivery({ ...ref, error: e.message }).catch(() => undefined);
      }
    } finally {
      inflight--;
      if (inflight === 0) for (const w of idleWaiters.splice(0)) w();
    }
  };

  const loop = (async () => {
    let failures = 0;
    while (!stopped()) {
      const abort = new AbortController();
      session = abort;
      const onLife = () => abort.abort();
      life.signal.addEventListener('abort', onLife, { once: true });
      let beat: NodeJS.Timeout | undefined;
      try {
        const stream = ctx.rpc.joinGroup({ group, pattern: options.pattern, start: options.start ?? '', credits }, { signal: abort.signal });
        for await (const m of stream) {
          if (m.message.case === 'joined') {
            const member = m.message.value.memberId;
            memberId = member;
            failures = 0;
            options.onJoin?.(member);
            const every = Math.max(5, Math.floor(m.message.value.sessionTimeoutMs / 3));
            beat = setInterval(() => {
              ctx.rpc.groupHeartbeat({ group, memberId: member }).catch(() => abort.abort());
            }, every);
            firstJoin?.resolve();
            firstJoin = undefined;
          } else if (m.message.case === 'delivery') {
            const w = m.message.value;
            void handle({ stream: w.stream, epoch: Number(w.epoch), attempt: w.attempt, events: w.events.map(fromWireEvent) }, memberId);
          }
        }
      } catch (error) {
        const e = fromConnectError(error);
        if (firstJoin !== undefined && !abort.signal.aborted && e.code !== 'STRAND_SERVER_UNAVAILABLE') {
          firstJoin.reject(e);
          firstJoin = undefined;
          break;
        }
        failures++;
      } finally {
        clearInterval(beat);
        life.signal.removeEventListener('abort', onLife);
        abort.abort();
        memberId = '';
      }
      // This session is over and its leases are going to other members: finish what it holds
      // (acks are refused now) before joining again, so no stream runs here and elsewhere at once.
      await idle();
      if (!rejoin || leaving || stopped()) break;
      await sleep(ctx.backoff(failures), life.signal);
    }
    await idle();
    ctx.aborts.delete(life);
    firstJoin?.reject(new InvalidArgumentError(`The member of ${group} stopped before it joined.`));
  })();

  await joined;
  return {
    get id() {
      return memberId;
    },
    closed: loop,
    leave: async () => {
      if (leaving || stopped()) return loop;
      leaving = true;
      const member = memberId;
      if (member !== '') await ctx.rpc.leaveGroup({ group, memberId: member }).catch(() => undefined);
      await idle();
      session?.abort();
      life.abort();
      await loop;
    },
    close: () => life.abort(),
  };
}
