/**
 * What flows between a consumer group and its members: a delivery (one event, or an ordered batch,
 * of one stream, under a lease epoch), the reference an ack or nack carries back, and the record
 * of a parked stream. Design: docs/design/0011-consumer-groups.md ("Leases and epochs", "Delivery").
 *
 * @module
 */
import type { RecordedEvent } from '@strand/core';
import type { ParkedStream } from '../lanes.js';

/** A stream whose events kept failing: its remaining events wait, in order, for retry or skip (the same record as a projection's). */
export type GroupParkedStream = ParkedStream;

/** What a member receives: one event, or an ordered batch, of one stream. */
export interface Delivery {
  /** The stream. */
  readonly stream: string;
  /** The lease epoch: acks carry it back, and are refused once the lease has moved. */
  readonly epoch: number;
  /** The events, in stream order (versions contiguous). */
  readonly events: readonly RecordedEvent[];
  /** 1 for the first delivery of the first event, then +1 per retry. */
  readonly attempt: number;
}

/** Identifies a delivery in an ack or nack. */
export interface DeliveryRef {
  /** The stream. */
  readonly stream: string;
  /** The lease epoch the delivery carried. */
  readonly epoch: number;
  /** Version of the delivery's first event. */
  readonly version: number;
}

/** A delivery addressed to a member. */
export interface Addressed {
  /** The member. */
  member: string;
  /** The delivery. */
  delivery: Delivery;
}

/** A read the coordinator must do for a stream whose next events are not buffered. */
export interface ReadRequest {
  /** The stream. */
  stream: string;
  /** First version wanted. */
  from: number;
  /** Most events. */
  limit: number;
  /** Ignore events after this position (the group has not seen them yet). */
  to: number;
}
