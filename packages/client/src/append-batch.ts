/**
 * Appends issued in the same turn of the event loop travel in one `AppendBatch` request (each
 * keeps its own expected version, result and error), so many appends in flight cost the server
 * one request and one group commit, as they do in process. A lone append is a plain `Append`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import { type AppendOptions, type AppendResult, type EventInput, InvalidArgumentError, InvalidEventError } from '@strand/core';
import { fromErrorDetail, fromWireAppendResult, ServerUnavailableError, toWireExpected, toWireInput, type wire } from '@strand/protocol';

/** The client's stub of the event store service. */
export type Rpc = Client<typeof wire.EventStoreService>;

/** Runs a call with the client's retry policy (see `StrandClient`). */
export type CallRunner = <T>(fn: () => Promise<T>, retry: boolean) => Promise<T>;

/** Options of {@link StrandClient.append}: the embedded log's, plus read-your-writes. */
export interface RemoteAppendOptions extends AppendOptions {
  /**
   * Names of projections the server hosts: the append resolves only once each has applied it
   * (read-your-writes across the network). Fails with the projection's typed error when one
   * parks the stream or does not catch up within `waitTimeoutMs` (the append itself is committed).
   */
  waitFor?: readonly string[];
  /** How long to wait for `waitFor`, ms. Default 5,000. */
  waitTimeoutMs?: number;
}

/** An append waiting to be sent in the next batch. */
interface QueuedAppend {
  readonly req: MessageInitShape<typeof wire.AppendRequestSchema>;
  readonly bytes: number;
  readonly events: number;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: unknown) => void;
}

/** Most appends, events and payload bytes one batch carries (below the server's default limits). */
const BATCH_APPENDS = 512;
const BATCH_EVENTS = 2_000;
const BATCH_BYTES = 1024 * 1024;

/** Gives every event an id, so a retried append is recognised by the server as the same append. */
export function withIds(events: readonly EventInput[]): wire.EventInput[] {
  if (!Array.isArray(events)) throw new InvalidEventError('events must be an array');
  return events.map((e) => toWireInput(e !== null && typeof e === 'object' && e.id === undefined ? { ...e, id: randomUUID() } : e));
}

/** The queue of appends waiting for the next batch, and the sending of batches. */
export class AppendBatcher {
  private queue: QueuedAppend[] = [];
  private flushScheduled = false;

  constructor(
    private readonly rpc: Rpc,
    private readonly call: CallRunner,
  ) {}

  /** Checks one append's input and queues it for the next batch. Throws on bad input. */
  enqueue(stream: string, events: readonly EventInput[], options: RemoteAppendOptions): Promise<AppendResult> {
    const wireEvents = withIds(events);
    const waitFor = options?.waitFor ?? [];
    if (!Array.isArray(waitFor) || waitFor.some((n) => typeof n !== 'string')) throw new InvalidArgumentError('waitFor is an array of projection names.');
    const waitTimeoutMs = options?.waitTimeoutMs ?? 0;
    if (!Number.isSafeInteger(waitTimeoutMs) || waitTimeoutMs < 0 || waitTimeoutMs > 0xffffffff) throw new InvalidArgumentError(`waitTimeoutMs must be an integer >= 0; got ${String(waitTimeoutMs)}.`);
    const req = { stream, events: wireEvents, expectedVersion: toWireExpected(options?.expectedVersion), recreate: options?.recreate === true, waitFor: [...waitFor], waitTimeoutMs };
    let bytes = stream.length;
    for (const e of wireEvents) bytes += e.data.length + e.metadata.length + e.type.length + e.id.length + 16;
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ req, bytes, events: wireEvents.length, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Sends the queued appends: batches bounded in appends, events and bytes. */
  private flush(): void {
    this.flushScheduled = false;
    const queue = this.queue;
    this.queue = [];
    let i = 0;
    while (i < queue.length) {
      const batch: QueuedAppend[] = [];
      let bytes = 0;
      let events = 0;
      while (i < queue.length && batch.length < BATCH_APPENDS) {
        const q = queue[i]!;
        if (batch.length > 0 && (bytes + q.bytes > BATCH_BYTES || events + q.events > BATCH_EVENTS)) break;
        batch.push(q);
        bytes += q.bytes;
        events += q.events;
        i++;
      }
      void this.send(batch);
    }
  }

  private async send(batch: readonly QueuedAppend[]): Promise<void> {
    if (batch.length === 1) {
      const q = batch[0]!;
      try {
        const res = await this.call(() => this.rpc.append(q.req), true);
        q.resolve(fromWireAppendResult(res.result));
      } catch (error) {
        q.reject(error);
      }
      return;
    }
    try {
      const res = await this.call(() => this.rpc.appendBatch({ appends: batch.map((q) => q.req) }), true);
      if (res.outcomes.length !== batch.length) throw new ServerUnavailableError(`the server answered ${res.outcomes.length} of ${batch.length} batched appends`);
      batch.forEach((q, k) => {
        const o = res.outcomes[k]!.outcome;
        if (o.case === 'result') q.resolve(fromWireAppendResult(o.value));
        else if (o.case === 'error') q.reject(fromErrorDetail(o.value));
        else q.reject(new ServerUnavailableError('the server sent an empty append outcome'));
      });
    } catch (error) {
      for (const q of batch) q.reject(error);
    }
  }
}
