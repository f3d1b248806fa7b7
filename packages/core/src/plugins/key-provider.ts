/**
 * Key providers for encryption at rest: where data keys live, and how they are destroyed
 * (crypto-shredding). Design: docs/design/0008-tenancy.md, "Encryption and crypto-shredding".
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describeValue, InvalidArgumentError, StrandError } from '../errors.js';
import type { Sublevel } from '../plugins.js';

/**
 * The key was destroyed (crypto-shredded): what it encrypted can never be read again, and it
 * cannot encrypt anything new. Code `STRAND_KEY_DESTROYED`.
 */
export class KeyDestroyedError extends StrandError {
  constructor(keyId: string) {
    super('STRAND_KEY_DESTROYED', 'data', `Data key "${keyId}" was destroyed (crypto-shredded); its events are unreadable for good and nothing new can be written with it. Use another entity id.`, {
      details: { keyId },
    });
  }
}

/**
 * Where data keys (32-byte AES-256 keys) come from. `keyFor` may be async (it may create and
 * persist a key); `cachedKey` is synchronous because read interceptors are: a provider keeps the
 * keys it serves in memory.
 */
export interface KeyProvider {
  /** Name used in logs and errors. */
  readonly name: string;
  /** The key with this id, created if it never existed; throws {@link KeyDestroyedError} if destroyed. */
  keyFor(keyId: string): Promise<Uint8Array>;
  /** The key with this id if it exists (not destroyed, not unknown). */
  cachedKey(keyId: string): Uint8Array | undefined;
  /** Destroys the key for good: every payload it encrypted becomes unreadable. */
  destroyKey(keyId: string): Promise<void>;
}

function assertKeyId(keyId: unknown): asserts keyId is string {
  if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 512) throw new InvalidArgumentError(`A key id is a string of 1 to 512 characters; got ${describeValue(keyId)}.`);
}

/** A key provider holding keys in memory only (tests, or keys fetched elsewhere at start-up). */
export class MemoryKeyProvider implements KeyProvider {
  readonly name = 'memory';
  private readonly keys = new Map<string, Uint8Array>();
  private readonly destroyed = new Set<string>();

  async keyFor(keyId: string): Promise<Uint8Array> {
    assertKeyId(keyId);
    if (this.destroyed.has(keyId)) throw new KeyDestroyedError(keyId);
    let k = this.keys.get(keyId);
    if (k === undefined) {
      k = randomBytes(32);
      this.keys.set(keyId, k);
    }
    return k;
  }

  cachedKey(keyId: string): Uint8Array | undefined {
    return this.keys.get(keyId);
  }

  async destroyKey(keyId: string): Promise<void> {
    assertKeyId(keyId);
    this.keys.get(keyId)?.fill(0);
    this.keys.delete(keyId);
    this.destroyed.add(keyId);
  }
}

interface StoredKey {
  /** Wrapped key: nonce(12) + tag(16) + ciphertext(32), base64; or null once destroyed. */
  w: string | null;
}

/**
 * Data keys kept in a sublevel of the store, each wrapped (AES-256-GCM) with a master key that
 * never touches the store (from a KMS, an env secret...). Destroying a key overwrites its record
 * with a tombstone, so the id can never be reused, and asks the store to compact that range so
 * LevelDB drops the old bytes from its files.
 */
export class LevelKeyProvider implements KeyProvider {
  readonly name = 'level';
  private readonly keys = new Map<string, Uint8Array>();
  private readonly destroyed = new Set<string>();
  private readonly creating = new Map<string, Promise<Uint8Array>>();

  private constructor(
    private readonly db: Sublevel,
    private readonly masterKey: Uint8Array,
  ) {}

  /** Loads every key of `db` (a sublevel with json values) into memory, unwrapped with `masterKey` (32 bytes). */
  static async open(db: Sublevel, masterKey: Uint8Array): Promise<LevelKeyProvider> {
    if (!(masterKey instanceof Uint8Array) || masterKey.length !== 32) throw new InvalidArgumentError('LevelKeyProvider needs a 32-byte master key (e.g. crypto.randomBytes(32), kept outside the store).');
    const p = new LevelKeyProvider(db, Uint8Array.from(masterKey));
    for await (const [id, value] of db.iterator({ valueEncoding: 'json' })) {
      const v = value as StoredKey;
      if (v.w === null) p.destroyed.add(id as string);
      else p.keys.set(id as string, p.unwrap(v.w));
    }
    return p;
  }

  private wrap(key: Uint8Array): string {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.masterKey, nonce);
    const body = Buffer.concat([c.update(key), c.final()]);
    return Buffer.concat([nonce, c.getAuthTag(), body]).toString('base64');
  }

  private unwrap(w: string): Uint8Array {
    const b = Buffer.from(w, 'base64');
    const d = createDecipheriv('aes-256-gcm', this.masterKey, b.subarray(0, 12));
    d.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([d.update(b.subarray(28)), d.final()]);
  }

  async keyFor(keyId: string): Promise<Uint8Array> {
    assertKeyId(keyId);
    if (this.destroyed.has(keyId)) throw new KeyDestroyedError(keyId);
    const known = this.keys.get(keyId);
    if (known !== undefined) return known;
    let pending = this.creating.get(keyId);
    if (pending === undefined) {
      pending = (async () => {
        const key = randomBytes(32);
        await this.db.put(keyId, { w: this.wrap(key) } satisfies StoredKey, { valueEncoding: 'json', sync: true } as object);
        this.keys.set(keyId, key);
        return key;
      })().finally(() => this.creating.delete(keyId));
      this.creating.set(keyId, pending);
    }
    return pending;
  }

  cachedKey(keyId: string): Uint8Array | undefined {
    return this.keys.get(keyId);
  }

  async destroyKey(keyId: string): Promise<void> {
    assertKeyId(keyId);
    await this.creating.get(keyId)?.catch(() => undefined);
    await this.db.put(keyId, { w: null } satisfies StoredKey, { valueEncoding: 'json', sync: true } as object);
    this.keys.get(keyId)?.fill(0);
    this.keys.delete(keyId);
    this.destroyed.add(keyId);
    // Best effort: LevelDB keeps overwritten values in older files until compaction.
    const root = (this.db as { db?: { compactRange?: (a: unknown, b: unknown, o: object) => Promise<void> } }).db;
    if (typeof root?.compactRange === 'function') {
      const prefix = (this.db as unknown as { prefix: string }).prefix;
      await root.compactRange(`${prefix}${keyId}`, `${prefix}${keyId}\u0000`, { keyEncoding: 'utf8' }).catch(() => undefined);
    }
  }
}
