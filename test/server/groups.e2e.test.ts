/**
 * Consumer group members through `strand serve` (a real server process on a loopback port):
 * members join over the network, receive leased deliveries carrying lease epochs, ack (with
 * effects committed exactly once) and nack; a poison stream parks alone and is skipped through
 * the server; a member that stops heartbeating loses its leases and its late ack is refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient, } from '@connectrpc/connect';
import { connect, type RemoteDelivery } from '@strand/client';
import { isStrandError, type RecordedEvent } from '@strand/core';
import { fromConnectError, groupsWire } from '@strand/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, rawTransport, tempDir } from './harness.js';

const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));
const API_KEY = 'groups-e2e-key-0123456789abcdef';
afterAll(cleanup);

interface Served {
  child: ChildProcess;
  url: string;
}

function serve(path: string, ...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [bin, '--path', path, '--json', 'serve', '--port', '0', ...args], { env: { ...process.env, STRAND_API_KEY: API_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, url: (JSON.parse(line) as { url: string }).url }));
    child.on('exit', (code, signal) => reject(new Error(`strand serve exited (${code}, ${signal}): ${stderr}`)));
  });
}

/** Resolves once `check` holds, polling the state the test itself records (fails after `ms`). */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('consumer group members through strand serve', () => {
  it('two remote members share the streams: in order, one member per stream at a time, effects once, a poison stream parked and skipped', async () => {
    const { child, url } = await serve(tempDir(), '--group-session-timeout', '2000', '--group-max-attempts', '3', '--group-backoff', '10');
    const writer = connect({ url, apiKey: API_KEY });
    const clients = [connect({ url, apiKey: API_KEY }), connect({ url, apiKey: API_KEY })];
    try {
      const streams = 12;
      const perStream = 6;
      for (let v = 1; v <= perStream; v++) {
        await writer.appendMulti(Array.from({ length: streams }, (_, s) => ({ stream: `orders/s-${s}`, events: [{ type: 'Placed', data: { s, v } }] })));
      }
      // The poison stream's first event always fails; the rest are fine.
      await writer.append('orders/poison', [
        { type: 'Bad', data: {} },
        { type: 'Placed', data: { v: 2 } },
        { type: 'Placed', data: { v: 3 } },
      ]);

      const running = new Map<string, string>();
      const seen = new Map<string, number[]>();
      const byMember = new Map<string, number>();
      const epochs = new Map<string, number>();
      const violations: string[] = [];
      const handler = (label: string) => async (d: RemoteDelivery) => {
        const other = running.get(d.stream);
        if (other !== undefined) violations.push(`${d.stream} on ${label} while on ${other}`);
        running.set(d.stream, label);
        try {
          expect(d.epoch).toBeGreaterThan(0);
          if ((epochs.get(d.stream) ?? 0) > d.epoch) violations.push(`${d.stream}: epoch went back`);
          epochs.set(d.stream, d.epoch);
          await new Promise((resolve) => setTimeout(resolve, 2));
          const e = d.events[0]! as RecordedEvent;
          if (e.type === 'Bad') throw new Error('cannot bill this one');
          seen.set(d.stream, [...(seen.get(d.stream) ?? []), e.version]);
          byMember.set(label, (byMember.get(label) ?? 0) + 1);
          // Exactly-once effects: committed with the ack, in the same commit.
          return { appends: [{ stream: `billed/${d.stream.slice('orders/'.length)}`, events: [{ type: 'Billed', data: { v: e.version, by: label } }] }] };
        } finally {
          running.delete(d.stream);
        }
      };
      const members = await Promise.all(clients.map((c, i) => c.joinGroup('billing', handler(`m${i}`), { pattern: 'orders/>', credits: 4 })));
      expect(members[0]!.id).not.toBe(members[1]!.id);

      await until(async () => (await writer.parkedStreams('billing')).length === 1 && [...seen.values()].reduce((a, v) => a + v.length, 0) === streams * perStream, 'every healthy event and the parking');
      const parked = await writer.parkedStreams('billing');
      expect(parked).toEqual([expect.objectContaining({ stream: 'orders/poison', version: 1, attempts: 3, error: expect.stringContaining('cannot bill') })]);
      for (let s = 0; s < streams; s++) expect(seen.get(`orders/s-${s}`), `orders/s-${s}`).toEqual(Array.from({ length: perStream }, (_, i) => i + 1));
      expect(byMember.get('m0') ?? 0).toBeGreaterThan(0);
      expect(byMember.get('m1') ?? 0).toBeGreaterThan(0);

      // Skipping the failed event through the server lets the rest of the stream flow, in order.
      expect(await writer.skipParked('billing', 'orders/poison')).toBe(true);
      expect(await writer.skipParked('billing', 'orders/poison')).toBe(false);
      await until(() => (seen.get('orders/poison') ?? []).length === 2, 'the rest of the poison stream');
      expect(seen.get('orders/poison')).toEqual([2, 3]);
      expect(await writer.parkedStreams('billing')).toEqual([]);
      expect(violations).toEqual([]);

      // Effects: each event's exactly once, in order.
      for (let s = 0; s < streams; s++) {
        const vs: number[] = [];
        for await (const e of writer.readStream(`billed/s-${s}`)) vs.push((e.data as { v: number }).v);
        expect(vs).toEqual(Array.from({ length: perStream }, (_, i) => i + 1));
      }
      await Promise.all(members.map((m) => m.leave()));
    } finally {
      child.kill('SIGKILL');
      for (const c of [writer, ...clients]) await c.close();
    }
  });

  it('a member that stops heartbeating loses its leases to another member; its late ack is refused with a typed error', async () => {
    const { child, url } = await serve(tempDir(), '--group-session-timeout', '600');
    const raw = createClient(groupsWire.ConsumerGroupService, rawTransport(url, API_KEY, { useBinaryFormat: true }));
    const writer = connect({ url, apiKey: API_KEY });
    const other = connect({ url, apiKey: API_KEY });
    const abort = new AbortController();
    try {
      await writer.append('fence/a', [{ type: 'Job', data: 1 }]);
      // A hand-driven member: joins, takes the delivery, then goes silent (no heartbeat, no ack).
      const it = raw.joinGroup({ group: 'fence', pattern: 'fence/>', credits: 1 }, { signal: abort.signal })[Symbol.asyncIterator]();
      const joined = (await it.next()).value as groupsWire.JoinGroupResponse;
      expect(joined.message.case).toBe('joined');
      const memberId = (joined.message.value as groupsWire.GroupJoined).memberId;
      const first = (await it.next()).value as groupsWire.JoinGroupResponse;
      expect(first.message.case).toBe('delivery');
      const d = first.message.value as groupsWire.GroupDelivery;
      expect(d.stream).toBe('fence/a');

      const got: RemoteDelivery[] = [];
      const member = await other.joinGroup('fence', (x) => void got.push(x), { pattern: 'fence/>' });
      // After the session timeout the silent member is expired and the stream moves, with a new epoch.
      await until(() => got.length === 1, 'the stream to move to the live member', 10_000);
      expect(got[0]!.stream).toBe('fence/a');
      expect(got[0]!.events[0]!.version).toBe(1);
      expect(got[0]!.epoch).toBeGreaterThan(Number(d.epoch));

      const late = await raw.ackDelivery({ group: 'fence', memberId, stream: d.stream, epoch: d.epoch, version: 1n }).then(
        () => undefined,
        (e: unknown) => fromConnectError(e),
      );
      expect(late === undefined ? 'accepted' : late.code).toMatch(/^STRAND_GROUP_(STALE_LEASE|MEMBER_EXPIRED)$/);
      // An ack naming the live member but the old epoch is refused too: the epoch fences it.
      const stale = await raw.ackDelivery({ group: 'fence', memberId: member.id, stream: d.stream, epoch: d.epoch, version: 1n }).then(
        () => undefined,
        (e: unknown) => fromConnectError(e),
      );
      expect(stale !== undefined && isStrandError(stale, 'STRAND_GROUP_STALE_LEASE')).toBe(true);
      await member.leave();
    } finally {
      abort.abort();
      child.kill('SIGKILL');
      await writer.close();
      await other.close();
    }
  });
});
