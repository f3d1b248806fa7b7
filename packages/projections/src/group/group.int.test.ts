import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLog, isStrandError, openLog } from '@strand/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsumerGroup } from './coordinator.js';
import type { Delivery } from './delivery.js';
import type { MemberSession } from './member.js';

let dir: string;
let log: EventLog;
const groups: ConsumerGroup[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-group-'));
  log = await openLog({ path: dir });
});
afterEach(async () => {
  for (const g of groups.splice(0)) await g.close();
  await log.close();
  await rm(dir, { recursive: true, force: true });
});

async function open(options: Partial<Parameters<typeof ConsumerGroup.open>[1]> = {}): Promise<ConsumerGroup> {
  const g = await ConsumerGroup.open(log, { name: 'g', pattern: 'o/>', sessionTimeoutMs: 300, backoffMs: 1, ...options });
  groups.push(g);
  return g;
}

/** A member driven by hand: deliveries queue up until the test takes them. */
const timers: NodeJS.Timeout[] = [];
afterEach(() => {
  for (const t of timers.splice(0)) clearInterval(t);
});

function manual(group: ConsumerGroup, credits = 8, heartbeats = true) {
  const queue: Delivery[] = [];
  const waiters: Array<(d: Delivery) => void> = [];
  const session: MemberSession = group.join((d) => {
    const w = waiters.shift();
    if (w) w(d);
    else queue.push(d);
  }, { credits });
  if (heartbeats) {
    timers.push(
      setInterval(() => {
        try {
          session.heartbeat();
        } catch {}
      }, 20),
    );
  }
  return {
    session,
    /** The next delivery (waits for it). */
    next: (): Promise<Delivery> => {
      const d = queue.shift();
      return d ? Promise.resolve(d) : new Promise<Delivery>((resolve) => waiters.push(resolve));
    },
    pending: () => queue.length,
    ref: (d: Delivery) => ({ stream: d.stream, epoch: d.epoch, version: d.events[0]!.version }),
  };
}

const events = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'T', data: i }));

describe('ConsumerGroup (in process, LevelDB)', () => {
  it('spreads streams over members, in order per stream, each event acked once, resumable', async () => {
    const group = await open();
    const seen = new Map<string, number[]>();
    const byMember = new Map<string, number>();
    const handler = (member: string) => (d: Delivery) => {
      for (const e of d.events) seen.set(e.stream, [...(seen.get(e.stream) ?? []), e.version]);
      byMember.set(member, (byMember.get(member) ?? 0) + 1);
    };
    group.consume(handler('a'), { credits: 4 });
    group.consume(handler('b'), { credits: 4 });
    for (let i = 0; i < 40; i++) await log.append(`o/${i % 10}`, events(2));
    await log.append('other/x', events(1));
    await group.drained();
    for (let s = 0; s < 10; s++) expect(seen.get(`o/${s}`)).toEqual(Array.from({ length: 8 }, (_, i) => i + 1));
    expect(seen.has('other/x')).toBe(false);
    expect(byMember.get('a')).toBeGreaterThan(0);
    expect(byMember.get('b')).toBeGreaterThan(0);
    await group.close();
    // The checkpoint is only the watermark once everything is done.
    const keys: string[] = [];
    for await (const k of log.sublevel('group-g').keys()) keys.push(k as string);
    expect(keys).toEqual(['state']);
    // Reopened: nothing is delivered again; new events are.
    const again = await open();
    const got: string[] = [];
    again.consume((d) => void got.push(`${d.stream}@${d.events[0]!.version}`));
    await log.append('o/3', events(1));
    await again.drained();
    expect(got).toEqual(['o/3@9']);
  });

  it('starts at the beginning, the end, or a position', async () => {
    await log.append('o/a', events(3));
    const fromEnd = await open({ name: 'end', start: 'end' });
    const fromPos = await open({ name: 'pos', start: { position: 3 } });
    const got = { end: [] as number[], pos: [] as number[] };
    fromEnd.consume((d) => void got.end.push(d.events[0]!.version));
    fromPos.consume((d) => void got.pos.push(d.events[0]!.version));
    await log.append('o/a', events(1));
    await fromEnd.drained();
    await fromPos.drained();
    expect(got).toEqual({ end: [4], pos: [3, 4] });
    await expect(ConsumerGroup.open(log, { name: 'end', pattern: 'x/>' })).rejects.toThrow(/pattern/);
  });

  it('regression: no out-of-order delivery after a rebalance (a lease moves only when nothing is in flight)', async () => {
    const group = await open();
    const a = manual(group);
    for (const s of ['o/s', 'o/u', 'o/v']) await log.append(s, events(3));
    const held = [await a.next(), await a.next(), await a.next()];
    expect(held.map((d) => d.events[0]!.version)).toEqual([1, 1, 1]);
    // B joins while A has version 1 of each stream in flight: one stream is due to move to B,
    // but not while its delivery is in flight.
    const b = manual(group);
    group.pump();
    expect(b.pending()).toBe(0);
    for (const d of held) expect(group.internals.inspect(d.stream)?.inflight?.member).toBe(a.session.id);
    for (const d of held) await a.session.ack(a.ref(d));
    group.pump();
    const moved = await b.next();
    // B starts the moved stream at version 2: never 1 again, never 3 before 2.
    expect(moved.events[0]!.version).toBe(2);
    expect(group.internals.leasesOf(b.session.id)).toEqual([moved.stream]);
    expect(group.internals.leasesOf(a.session.id)).not.toContain(moved.stream);
  });

  it('regression: a member that left while stuck does not keep its streams', async () => {
    const group = await open({ sessionTimeoutMs: 150 });
    const a = manual(group);
    await log.append('o/s', events(2));
    const held = await a.next();
    a.session.leave(); // and its handler never finishes
    const b = manual(group);
    const d = await b.next();
    expect([d.stream, d.events[0]!.version]).toEqual(['o/s', 1]);
    const late = await a.session.ack(a.ref(held)).catch((e: unknown) => e);
    expect(isStrandError(late, 'STRAND_GROUP_STALE_LEASE')).toBe(true);
    await b.session.ack(b.ref(d));
    expect((await b.next()).events[0]!.version).toBe(2);
  });

  it('regression: no reordering after a nack (the failed event is retried before anything after it)', async () => {
    const group = await open({ maxAttempts: 10 });
    let failures = 2;
    const order: number[] = [];
    group.consume(
      (d) => {
        if (d.events[0]!.version === 1 && failures-- > 0) throw new Error('transient');
        order.push(d.events[0]!.version);
      },
      { credits: 8 },
    );
    await log.append('o/s', events(5));
    await group.drained();
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('regression: a stale ack is refused after the lease moved, effects included (exactly once)', async () => {
    const group = await open({ sessionTimeoutMs: 100 });
    const a = manual(group, 8, false); // never heartbeats: it will expire
    await log.append('o/s', events(1));
    const d1 = await a.next();
    const b = manual(group);
    {
      const d2 = await b.next(); // the lease moved to B after A's session timed out
      expect(d2.epoch).toBeGreaterThan(d1.epoch);
      const stale = await a.session.ack(a.ref(d1), { appends: [{ stream: 'effects/s', events: [{ type: 'Done', data: 'a' }] }] }).catch((e: unknown) => e);
      expect(isStrandError(stale, 'STRAND_GROUP_STALE_LEASE') || isStrandError(stale, 'STRAND_GROUP_MEMBER_EXPIRED')).toBe(true);
      expect(await log.streamInfo('effects/s')).toBeUndefined();
      await b.session.ack(b.ref(d2), { appends: [{ stream: 'effects/s', events: [{ type: 'Done', data: 'b' }] }] });
      const fx = [];
      for await (const e of log.readStream('effects/s')) fx.push(e.data);
      expect(fx).toEqual(['b']);
    }
  });

  it('regression: a new member does not starve while existing members keep every stream busy', async () => {
    const group = await open();
    const a = manual(group, 100);
    for (let s = 0; s < 8; s++) await log.append(`o/${s}`, events(50));
    // A takes all 8 streams and has one delivery of each in flight: it is never idle.
    const held: Delivery[] = [];
    for (let i = 0; i < 8; i++) held.push(await a.next());
    const b = manual(group, 100);
    group.pump();
    // Half of A's streams are due to move; each moves as soon as its delivery settles.
    for (const d of held) await a.session.ack(a.ref(d));
    group.pump();
    expect(group.internals.leasesOf(b.session.id)).toHaveLength(4);
    expect(group.internals.leasesOf(a.session.id)).toHaveLength(4);
    const first = await b.next();
    expect(first.events[0]!.version).toBe(2);
  });

  it('parks a poison stream while the others flow; lists, retries and skips it', async () => {
    const group = await open({ maxAttempts: 3 });
    let poison = true;
    const done: string[] = [];
    group.consume((d) => {
      if (d.stream === 'o/bad' && poison) throw new Error('poison');
      done.push(`${d.stream}@${d.events[0]!.version}`);
    });
    await log.append('o/bad', events(2));
    for (let i = 0; i < 20; i++) await log.append(`o/${i}`, events(1));
    await group.drained();
    expect(done).toHaveLength(20);
    expect(group.parked().map((p) => [p.stream, p.version, p.error, p.attempts])).toEqual([['o/bad', 1, 'poison', 3]]);
    expect(await group.skip('o/bad')).toBe(true);
    await group.drained();
    expect(group.parked().map((p) => p.version)).toEqual([2]);
    poison = false;
    expect(await group.retry('o/bad')).toBe(true);
    await group.drained();
    expect(done.filter((x) => x.startsWith('o/bad'))).toEqual(['o/bad@2']);
    expect(await group.retry('o/bad')).toBe(false);
  });

  it('gives exactly-once effects across a coordinator restart', async () => {
    let group = await open();
    await log.append('o/s', events(6));
    const a = manual(group);
    for (let i = 0; i < 3; i++) {
      const d = await a.next();
      await a.session.ack(a.ref(d), { appends: [{ stream: 'fx/s', events: [{ type: 'Done', data: d.events[0]!.version }] }] });
    }
    // The coordinator stops without writing its checkpoint after those acks: only the commits know.
    const held = await a.next();
    (group as unknown as { persist: () => Promise<void> }).persist = async () => {};
    await group.close();
    groups.splice(groups.indexOf(group), 1);
    group = await open();
    const stale = await a.session.ack(a.ref(held), { appends: [{ stream: 'fx/s', events: [{ type: 'Done', data: -1 }] }] }).catch((e: unknown) => e);
    expect(isStrandError(stale, 'STRAND_GROUP_CLOSED')).toBe(true);
    group.consume((d) => ({ appends: [{ stream: 'fx/s', events: [{ type: 'Done', data: d.events[0]!.version }] }] }));
    await group.drained();
    const fx: unknown[] = [];
    for await (const e of log.readStream('fx/s')) fx.push(e.data);
    expect(fx).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
