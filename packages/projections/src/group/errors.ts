/**
 * Errors of consumer groups (codes listed in docs/errors.md).
 *
 * @module
 */
import { StrandError } from '@strand/core';

/**
 * An ack or nack for a delivery whose lease has moved (the member timed out, left, or the stream
 * was rebalanced): refused, never applied. Code `STRAND_GROUP_STALE_LEASE`.
 */
export class StaleLeaseError extends StrandError {
  constructor(group: string, stream: string, epoch: number, reason: string) {
    super(
      'STRAND_GROUP_STALE_LEASE',
      'conflict',
      `Consumer group ${group}: the delivery of "${stream}" with lease epoch ${epoch} is no longer this member's (${reason}); its ack was refused and nothing was applied. Another member has (or will get) the stream from its last acknowledged event; drop this delivery.`,
      { details: { group, stream, epoch, reason } },
    );
  }
}

/** A member the group no longer knows (expired after missing heartbeats, or left). Code `STRAND_GROUP_MEMBER_EXPIRED`. */
export class MemberExpiredError extends StrandError {
  constructor(group: string, member: string) {
    super(
      'STRAND_GROUP_MEMBER_EXPIRED',
      'closed',
      `Consumer group ${group}: member ${member} is not in the group (its heartbeats stopped for longer than the session timeout, or it left); its leases went to other members. Join again.`,
      { details: { group, member } },
    );
  }
}

/** The group was closed (or its coordinator stopped) while a member used it. Code `STRAND_GROUP_CLOSED`. */
export class GroupClosedError extends StrandError {
  constructor(group: string, cause?: unknown) {
    super('STRAND_GROUP_CLOSED', 'closed', `Consumer group ${group} is closed. Open it again (or reconnect to its coordinator).`, { details: { group }, cause });
  }
}

/** A range of member protocol versions a peer speaks (docs/design/0011, "Versions of the member protocol"). */
export interface ProtocolRange {
  /** Lowest version spoken. */
  readonly min: number;
  /** Highest version spoken. */
  readonly max: number;
}

const span = (r: ProtocolRange) => (r.min === r.max ? `version ${r.min}` : `versions ${r.min} to ${r.max}`);

/**
 * A member and a coordinator that speak no member protocol version in common: the join is refused
 * (by the coordinator, or by the member when the coordinator answers with a version it does not
 * speak) and the connection closed. Code `STRAND_GROUP_PROTOCOL`.
 */
export class GroupProtocolError extends StrandError {
  constructor(group: string, member: ProtocolRange, coordinator: ProtocolRange) {
    const fix =
      member.max < coordinator.min
        ? `Upgrade the member: its release is older than the oldest this coordinator still serves (it needs a member that speaks version ${coordinator.min} or later).`
        : `Upgrade the coordinator (the process that serves the group) to a release that speaks version ${member.min} or later, or run a member release that still speaks ${span(coordinator)}.`;
    super('STRAND_GROUP_PROTOCOL', 'invalid', `Consumer group ${group}: the member speaks member protocol ${span(member)}, the coordinator ${span(coordinator)}; with no version in common the join was refused. ${fix}`, {
      details: { group, member: { min: member.min, max: member.max }, coordinator: { min: coordinator.min, max: coordinator.max } },
    });
  }
}
