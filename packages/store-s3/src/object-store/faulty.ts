/**
 * Fault injection for the simulation: latency, errors, throttling, lost acknowledgements and torn
 * uploads, all drawn from a seeded generator so a seed replays the same run.
 *
 * @module
 */
import type { Clock, Random } from '../clock.js';
import type { InMemoryObjectStore } from './memory.js';
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './types.js';
import { ObjectStoreError } from './types.js';

/** Probabilities (0..1) of each fault per request, and the latency range. */
export interface FaultOptions {
  /** Latency drawn uniformly from [min, max] ms per request (default 0..5). */
  latencyMs?: [number, number];
  /** A 500 before the request is applied. */
  errorRate?: number;
  /** A 503 SlowDown before the request is applied. */
  throttleRate?: number;
  /** The PUT is applied but the caller gets a 500 (the acknowledgement is lost). */
  lostAckRate?: number;
  /** A truncated body is stored and the caller gets an error (a torn upload). */
  tornUploadRate?: number;
  /**
   * The PUT is applied, the connection drops (outcome unknown) and the store stays unreachable
   * (connections refused) for a time drawn from `outageMs`: a store restart at the worst moment.
   */
  outageRate?: number;
  /** Length of an outage, drawn uniformly from [min, max] ms (default 100..600). */
  outageMs?: [number, number];
}

/**
 * Decorates an {@link InMemoryObjectStore}. Faults can be switched off with `enabled = false`
 * (to check the final state without noise).
 */
export class FaultyObjectStore implements ObjectStore {
  /** When false, requests pass straight through (still with latency). */
  enabled = true;
  /** Faults injected so far, by kind. */
  readonly injected = { error: 0, throttle: 0, lostAck: 0, torn: 0, outage: 0 };
  /** The store refuses connections until this time (the clock's). */
  private downUntil = -1;
  private readonly o: Required<FaultOptions>;

  constructor(
    private readonly inner: InMemoryObjectStore,
    private readonly clock: Clock,
    private readonly random: Random,
    options: FaultOptions = {},
  ) {
    this.o = {
      latencyMs: options.latencyMs ?? [0, 5],
      errorRate: options.errorRate ?? 0,
      throttleRate: options.throttleRate ?? 0,
      lostAckRate: options.lostAckRate ?? 0,
      tornUploadRate: options.tornUploadRate ?? 0,
      outageRate: options.outageRate ?? 0,
      outageMs: options.outageMs ?? [100, 600],
    };
  }

  private async before(): Promise<void> {
    const [min, max] = this.o.latencyMs;
    const latency = min + this.random() * (max - min);
    if (latency > 0) await this.clock.sleep(latency);
    if (!this.enabled) return;
    if (this.clock.now() < this.downUntil) {
      throw new ObjectStoreError('connect ECONNREFUSED (injected outage)', { retryable: true });
    }
    const r = this.random();
    if (r < this.o.throttleRate) {
      this.injected.throttle++;
      throw new ObjectStoreError('SlowDown (injected)', { status: 503, retryable: true });
    }
    if (r < this.o.throttleRate + this.o.errorRate) {
      this.injected.error++;
      throw new ObjectStoreError('InternalError (injected)', { status: 500, retryable: true });
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.before();
    return this.inner.get(key);
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    await this.before();
    return this.inner.getRange(key, start, end);
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    await this.before();
    const r = this.enabled ? this.random() : 1;
    if (r < this.o.tornUploadRate) {
      this.injected.torn++;
      const cut = Math.floor(this.random() * body.byteLength);
      this.inner.putSync(key, body.subarray(0, cut), options);
      throw new ObjectStoreError('connection reset during upload (injected torn upload)', {
        retryable: true,
        outcomeUnknown: true,
      });
    }
    const result = this.inner.putSync(key, body, options);
    if (r >= this.o.tornUploadRate + this.o.lostAckRate && r < this.o.tornUploadRate + this.o.lostAckRate + this.o.outageRate) {
      this.injected.outage++;
      const [min, max] = this.o.outageMs;
      this.downUntil = this.clock.now() + min + this.random() * (max - min);
      throw new ObjectStoreError('connection reset after upload, then the store went down (injected outage)', {
        retryable: true,
        outcomeUnknown: true,
      });
    }
    if (r < this.o.tornUploadRate + this.o.lostAckRate) {
      this.injected.lostAck++;
      throw new ObjectStoreError('InternalError after apply (injected lost ack)', {
        status: 500,
        retryable: true,
        outcomeUnknown: true,
      });
    }
    return result;
  }

  async delete(key: string): Promise<void> {
    await this.before();
    return this.inner.delete(key);
  }

  async list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    await this.before();
    return this.inner.list(prefix, options);
  }

  serverTime(): number | undefined {
    return this.inner.serverTime?.();
  }
}
