/**
 * A consumer group's members as the coordinator sees them: the session every member speaks
 * through (in process, over a socket, or through the server), the effects an ack may carry, and
 * the in-process member that `ConsumerGroup.consume` runs (a handler whose result acks each
 * delivery and whose throw nacks it, with its own heartbeat). Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import type { Logger, StreamAppend } from '@strand/core';
import type { Delivery, DeliveryRef } from './delivery.js';

/** Effects a handler commits together with its ack (exactly-once effects). */
export interface AckEffects {
  /** Appends committed in the same atomic commit as the ack. */
  appends: readonly StreamAppend[];
}

/** A member's connection to the group: what `consume` and the network server build on. */
export interface MemberSession {
  /** The member's id (unique across coordinator restarts). */
  readonly id: string;
  /** A sign of life (any ack or nack counts too). */
  heartbeat(): void;
  /**
   * Acknowledges a delivery. With `effects`, the appends and the ack are one atomic commit: if the
   * lease has moved the commit is refused whole (`STRAND_GROUP_STALE_LEASE`), so the effects
   * happen exactly once. Resolves once the ack is durable.
   */
  ack(ref: DeliveryRef, effects?: AckEffects): Promise<void>;
  /** Reports a failed delivery: retried after a backoff (or `delayMs`), parked after `maxAttempts`. */
  nack(ref: DeliveryRef, error: string, delayMs?: number): void;
  /** Leaves gracefully: deliveries in flight may still be acked; nothing new arrives. */
  leave(): void;
  /** Drops the member at once (its connection is gone): its deliveries go to other members. */
  expire(): void;
}

/** What a handler of `ConsumerGroup.consume` returns: nothing, or effects to commit with the ack. */
export type GroupHandler = (delivery: Delivery) => void | AckEffects | Promise<void | AckEffects>;

/** An in-process member started by `ConsumerGroup.consume`. */
export interface GroupMember {
  /** Its id. */
  readonly id: string;
  /** Leaves gracefully and resolves when its deliveries in flight are settled. */
  leave(): Promise<void>;
}

/**
 * Runs a handler as an in-process member over the session `join` opens: each delivery's handler
 * result acks it (returning `{ appends }` commits them with the ack, exactly once); a throw nacks
 * it; an ack refused for another reason than a moved lease nacks it too. Heartbeats every third of
 * the session timeout until it has left.
 */
export function runMember(join: (deliver: (d: Delivery) => void) => MemberSession, handler: GroupHandler, context: { group: string; sessionTimeoutMs: number; logger: Logger }): GroupMember {
  const { group, logger } = context;
  let inflight = 0;
  let idle: (() => void) | undefined;
  let leaving = false;
  const run = async (d: Delivery) => {
    inflight++;
    const ref = { stream: d.stream, epoch: d.epoch, version: d.events[0]!.version };
    try {
      let result: void | AckEffects;
      try {
        result = await handler(d);
      } catch (error) {
        session.nack(ref, String((error as Error)?.message ?? error));
        return;
      }
      await session.ack(ref, result ?? undefined).catch((error: unknown) => {
        logger.warn({ group, member: session.id, stream: d.stream, err: error }, 'ack refused');
        if (!(error instanceof Error && 'code' in error && (error as { code: string }).code === 'STRAND_GROUP_STALE_LEASE')) {
          try {
            session.nack(ref, String((error as Error)?.message ?? error));
          } catch {}
        }
      });
    } catch (error) {
      logger.warn({ group, member: session.id, err: error }, 'member error');
    } finally {
      inflight--;
      if (inflight === 0) idle?.();
    }
  };
  const session = join((d) => void run(d));
  const beat = setInterval(
    () => {
      try {
        session.heartbeat();
      } catch {
        clearInterval(beat);
      }
    },
    Math.max(5, Math.floor(context.sessionTimeoutMs / 3)),
  );
  beat.unref();
  return {
    id: session.id,
    leave: async () => {
      if (leaving) return;
      leaving = true;
      session.leave();
      if (inflight > 0) await new Promise<void>((resolve) => (idle = resolve));
      clearInterval(beat);
    },
  };
}
