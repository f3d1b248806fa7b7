/**
 * Encryption at rest: AES-256-GCM over each event's data, keys from a {@link KeyProvider}.
 * Design: docs/design/0008-tenancy.md, "Encryption and crypto-shredding".
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CorruptionError, InvalidArgumentError, InvalidEventError } from '../errors.js';
import type { AppendContext, AppendInterceptor, ReadInterceptor } from '../plugins.js';
import type { EventInput, RecordedEvent } from '../types.js';
import { KeyDestroyedError, type KeyProvider } from './key-provider.js';

/**
 * The stored form of an encrypted payload (in place of the event's data): format, key id, nonce,
 * GCM tag and ciphertext of the JSON data. The stream and event type are bound as additional
 * authenticated data, so a payload copied to another stream or type fails to decrypt.
 */
export interface EncryptedPayload {
  /** Envelope format version. */
  readonly $enc: 1;
  /** Key id (from `keyFor`). */
  readonly k: string;
  /** 12-byte nonce, base64. */
  readonly n: string;
  /** 16-byte GCM tag, base64. */
  readonly t: string;
  /** Ciphertext of the JSON data, base64. */
  readonly c: string;
}

/** The data a read returns in place of a payload whose key was destroyed (mode `redact`). */
export interface RedactedPayload {
  /** Why it is gone. */
  readonly $redacted: 'key-destroyed';
  /** The destroyed key's id. */
  readonly keyId: string;
}

/** Options of {@link Encryption}. */
export interface EncryptionOptions {
  /** Where keys come from. */
  keys: KeyProvider;
  /**
   * Which key encrypts an append to `stream`: a constant for one key per tenant, the stream for
   * one per stream, or an entity id taken from the name (`users/u-42/...` → `u-42`) so destroying
   * that key shreds everything about the entity across streams. Default: one key, `"default"`.
   */
  keyFor?: (stream: string) => string;
  /**
   * What reads do with a payload whose key is gone: `redact` (default) delivers the event with
   * {@link RedactedPayload} data so reads of other events go on; `error` throws
   * `STRAND_KEY_DESTROYED`.
   */
  onMissingKey?: 'redact' | 'error';
}

/** True if `data` is an {@link EncryptedPayload}. */
export function isEncryptedPayload(data: unknown): data is EncryptedPayload {
  return data !== null && typeof data === 'object' && (data as { $enc?: unknown }).$enc === 1 && typeof (data as { k?: unknown }).k === 'string';
}

/** True if `data` is a {@link RedactedPayload}. */
export function isRedactedPayload(data: unknown): data is RedactedPayload {
  return data !== null && typeof data === 'object' && (data as { $redacted?: unknown }).$redacted === 'key-destroyed';
}

function aad(stream: string, type: string): Buffer {
  return Buffer.from(`${stream}\u0000${type}`, 'utf8');
}

/**
 * The encryption plugin: its `append` interceptor replaces each event's data with an
 * {@link EncryptedPayload}; its `read` interceptor puts the plaintext back. Metadata, stream names
 * and types stay in clear (they index the log). Register both, the read one first among read
 * interceptors that look at data. Data round-trips as JSON (a `Date` comes back as a string, as
 * with the JSON codec).
 */
export class Encryption {
  /** Encrypts on append. */
  readonly append: AppendInterceptor;
  /** Decrypts on read (or redacts). */
  readonly read: ReadInterceptor;
  private readonly keys: KeyProvider;
  private readonly keyFor: (stream: string) => string;
  private readonly onMissingKey: 'redact' | 'error';

  constructor(options: EncryptionOptions) {
    if (options === null || typeof options !== 'object' || options.keys === undefined) throw new InvalidArgumentError('Encryption needs { keys: KeyProvider } (e.g. await LevelKeyProvider.open(db, masterKey)).');
    if (options.onMissingKey !== undefined && options.onMissingKey !== 'redact' && options.onMissingKey !== 'error') {
      throw new InvalidArgumentError(`onMissingKey is 'redact' or 'error'.`);
    }
    this.keys = options.keys;
    this.keyFor = options.keyFor ?? (() => 'default');
    this.onMissingKey = options.onMissingKey ?? 'redact';
    this.append = { name: 'encryption', onAppend: (events, ctx) => this.encrypt(events, ctx) };
    this.read = { name: 'encryption', onRead: (event) => this.decrypt(event) };
  }

  private async encrypt(events: readonly EventInput[], ctx: AppendContext): Promise<readonly EventInput[]> {
    const keyId = this.keyFor(ctx.stream);
    const key = await this.keys.keyFor(keyId);
    return events.map((e) => {
      const nonce = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, nonce);
      c.setAAD(aad(ctx.stream, e.type));
      let json: string;
      try {
        json = JSON.stringify(e.data ?? null);
      } catch (cause) {
        throw new InvalidEventError(`the encryption plugin encrypts JSON data, and the data of this ${e.type} event is not JSON (${(cause as Error).message})`, { type: e.type });
      }
      const body = Buffer.concat([c.update(json, 'utf8'), c.final()]);
      const payload: EncryptedPayload = { $enc: 1, k: keyId, n: nonce.toString('base64'), t: c.getAuthTag().toString('base64'), c: body.toString('base64') };
      return { ...e, data: payload };
    });
  }

  private decrypt(event: RecordedEvent): RecordedEvent {
    const p = event.data;
    if (!isEncryptedPayload(p)) return event;
    const key = this.keys.cachedKey(p.k);
    if (key === undefined) {
      if (this.onMissingKey === 'error') throw new KeyDestroyedError(p.k);
      const redacted: RedactedPayload = { $redacted: 'key-destroyed', keyId: p.k };
      return { ...event, data: redacted };
    }
    try {
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(p.n, 'base64'));
      d.setAAD(aad(event.stream, event.type));
      d.setAuthTag(Buffer.from(p.t, 'base64'));
      const plain = Buffer.concat([d.update(Buffer.from(p.c, 'base64')), d.final()]).toString('utf8');
      return { ...event, data: JSON.parse(plain) };
    } catch (cause) {
      throw new CorruptionError(`the encrypted payload of event ${event.position} ("${event.stream}" v${event.version}) fails authentication`, cause);
    }
  }
}
