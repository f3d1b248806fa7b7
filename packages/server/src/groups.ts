/**
 * `strand.v1.ConsumerGroupService`: consumer groups hosted by the server, so members join from
 * anywhere on the network. The server is the groups' coordinator (it owns the log): a `JoinGroup`
 * call is a member session whose response stream carries the deliveries, each with its lease
 * epoch; acks, nacks and heartbeats are unary calls naming the member. Ending the call (or losing
 * the connection) expires the member at once, so its leases move. Design:
 * docs/design/0011-consumer-groups.md, "Remote members through the server".
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { type EventLog, InvalidArgumentError } from '@strand/core';
import { ConsumerGroup, type Delivery, type GroupOptions, type MemberSession, MemberExpiredError } from '@strand/projections';
import { fromWireExpected, fromWireInput, groupsWire, toConnectError, toWireEvent } from '@strand/protocol';
import type { Authenticator, Scope } from './auth.js';
import type { Connections } from './connections.js';
import type { Limits } from './limits.js';
import { callInfo, callPlumbing } from './calls.js';

type JoinResponse = MessageInitShape<typeof groupsWire.JoinGroupResponseSchema>;

/** Settings of the groups a server hosts (every group it opens gets them). */
export type HostedGroupOptions = Omit<GroupOptions, 'name' | 'pattern' | 'start' | 'logger'>;

interface Member {
  readonly tenant: string;
  readonly group: string;
  readonly session: MemberSession;
}

/** The groups a server hosts, per tenant, opened on first join and closed with the server. */
export class GroupHost {
  private readonly groups = new Map<string, Promise<ConsumerGroup>>();
  private readonly members = new Map<string, Member>();
  private closed = false;

  constructor(private readonly options: HostedGroupOptions = {}) {}

  /** The group `name` of the scope's tenant, opened (or created, with `pattern` and `start`) on first use. */
  async group(scope: Scope, name: string, pattern?: string, start?: GroupOptions['start']): Promise<ConsumerGroup> {
    if (this.closed) throw new InvalidArgumentError('The server is shutting down.');
    const key = `${scope.tenant}\u0000${name}`;
    let p = this.groups.get(key);
    if (p === undefined) {
      if (pattern === undefined || pattern === '') throw new InvalidArgumentError(`Consumer group ${name} is not open on this server; join it with its pattern first.`);
      const log: EventLog = await scope.log();
      p = ConsumerGroup.open(log, { ...this.options, name, pattern, ...(start === undefined ? {} : { start }) });
      this.groups.set(key, p);
      p.catch(() => this.groups.delete(key));
    }
    const group = await p;
    if (pattern !== undefined && pattern !== '' && pattern !== group.pattern) {
      throw new InvalidArgumentError(`Group ${name} exists with pattern ${group.pattern}, not ${pattern}. Use another name for another pattern.`);
    }
    return group;
  }

  /** Registers a member session; returns how to forget it. */
  add(member: Member): () => void {
    this.members.set(member.session.id, member);
    return () => this.members.delete(member.session.id);
  }

  /** The session of a member of the scope's tenant in `group`; `STRAND_GROUP_MEMBER_EXPIRED` when there is none. */
  member(scope: Scope, group: string, id: string): MemberSession {
    const m = this.members.get(id);
    if (m === undefined || m.tenant !== scope.tenant || m.group !== group) throw new MemberExpiredError(group, id);
    return m.session;
  }

  /** Closes every hosted group (members get `STRAND_GROUP_CLOSED`; checkpoints are written). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.groups.values()];
    this.groups.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
  }
}

/** What the group service needs from the server. */
export interface GroupServiceDeps {
  readonly host: GroupHost;
  readonly auth: Authenticator;
  readonly connections: Connections;
  readonly limits: Limits;
}


const START = new Map<string, GroupOptions['start']>([
  ['', undefined],
  ['beginning', 'beginning'],
  ['end', 'end'],
]);

function ref(req: { stream: string; epoch: bigint; version: bigint }) {
  const epoch = Number(req.epoch);
  const version = Number(req.version);
  if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(version) || version < 1) throw new InvalidArgumentError('epoch and version must be integers (version >= 1).');
  return { stream: req.stream, epoch, version };
}

/** Registers `strand.v1.ConsumerGroupService` on a Connect router. */
export function registerGroupService(router: ConnectRouter, deps: GroupServiceDeps): void {
  const { host, auth, connections, limits } = deps;
  // The same authentication, connection accounting, deadline and error mapping as every unary call.
  const { begin, unary } = callPlumbing({ auth, connections, limits });

  router.service(groupsWire.ConsumerGroupService, {
    async *joinGroup(req: groupsWire.JoinGroupRequest, ctx: HandlerContext): AsyncGenerator<JoinResponse> {
      let end: (() => void) | undefined;
      let closeStream: (() => void) | undefined;
      let session: MemberSession | undefined;
      let forget: (() => void) | undefined;
      try {
        const call = begin(ctx);
        end = call.end;
        const scope = call.scope;
        scope.check('subscribe', req.pattern);
        if (!START.has(req.start)) throw new InvalidArgumentError(`start is 'beginning' or 'end'; got ${JSON.stringify(req.start)}.`);
        closeStream = connections.openStream(callInfo(ctx).connection);
        const group = await host.group(scope, req.group, req.pattern, START.get(req.start));
        const queue: Delivery[] = [];
        let wake: (() => void) | undefined;
        const deliver = (d: Delivery) => {
          queue.push(d);
          const w = wake;
          wake = undefined;
          w?.();
        };
        session = group.join(deliver, { credits: req.credits === 0 ? 16 : req.credits });
        forget = host.add({ tenant: scope.tenant, group: group.name, session });
        yield { message: { case: 'joined', value: { memberId: session.id, sessionTimeoutMs: group.tuning.sessionTimeoutMs } } };
        const stopped = new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        for (;;) {
          while (queue.length > 0) {
            const d = queue.shift()!;
            yield { message: { case: 'delivery', value: { stream: d.stream, epoch: BigInt(d.epoch), attempt: d.attempt, events: d.events.map(toWireEvent) } } };
          }
          if (ctx.signal.aborted) break;
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), stopped]);
          if (ctx.signal.aborted) break;
        }
      } catch (error) {
        throw toConnectError(error);
      } finally {
        // The call is over (the member closed it, or its connection is gone): its leases move now.
        session?.expire();
        forget?.();
        closeStream?.();
        end?.();
      }
    },

    ackDelivery: unary(async (req: groupsWire.AckDeliveryRequest, scope) => {
      const session = host.member(scope, req.group, req.memberId);
      if (req.effects.length === 0) await session.ack(ref(req));
      else {
        for (const p of req.effects) scope.check('append', p.stream);
        await session.ack(ref(req), {
          appends: req.effects.map((p) => ({ stream: p.stream, events: p.events.map(fromWireInput), expectedVersion: fromWireExpected(p.expectedVersion), recreate: p.recreate })),
        });
      }
      return {};
    }),

    nackDelivery: unary(async (req: groupsWire.NackDeliveryRequest, scope) => {
      host.member(scope, req.group, req.memberId).nack(ref(req), req.error, req.delayMs === 0 ? undefined : req.delayMs);
      return {};
    }),

    groupHeartbeat: unary(async (req: groupsWire.GroupHeartbeatRequest, scope) => {
      host.member(scope, req.group, req.memberId).heartbeat();
      return {};
    }),

    leaveGroup: unary(async (req: groupsWire.LeaveGroupRequest, scope) => {
      host.member(scope, req.group, req.memberId).leave();
      return {};
    }),

    listParked: unary(async (req: groupsWire.ListParkedRequest, scope): Promise<MessageInitShape<typeof groupsWire.ListParkedResponseSchema>> => {
      scope.checkHolds('subscribe', 'admin');
      const group = await host.group(scope, req.group);
      return {
        streams: group.parked().map((p) => ({ stream: p.stream, version: BigInt(p.version), position: BigInt(p.position), error: p.error, attempts: p.attempts })),
      };
    }),

    retryParked: unary(async (req: groupsWire.RetryParkedRequest, scope) => {
      scope.check('admin', req.stream);
      return { wasParked: await (await host.group(scope, req.group)).retry(req.stream) };
    }),

    skipParked: unary(async (req: groupsWire.SkipParkedRequest, scope) => {
      scope.check('admin', req.stream);
      return { wasParked: await (await host.group(scope, req.group)).skip(req.stream) };
    }),
  });
}
