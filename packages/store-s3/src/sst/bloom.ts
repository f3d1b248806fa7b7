/**
 * Bloom filter per SST: a `get` of an absent key skips the table without fetching a block.
 *
 * @module
 */
import { ByteReader, ByteWriter } from '../bytes.js';

/** Default bits per key: about 1% false positives with 7 probes. */
export const BLOOM_BITS_PER_KEY = 10;

function fnv1a(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix(h: number): number {
  // murmur3 finaliser: a second, independent-enough hash for double hashing
  let x = h ^ 0x9e3779b9;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return (x | 1) >>> 0;
}

/** A built or decoded filter. */
export class BloomFilter {
  private constructor(
    private readonly bits: Uint8Array,
    private readonly numBits: number,
    private readonly probes: number,
  ) {}

  /** Builds a filter over `keys`. */
  static build(keys: Iterable<Uint8Array>, count: number, bitsPerKey = BLOOM_BITS_PER_KEY): BloomFilter {
    const numBits = Math.max(64, Math.ceil(count * bitsPerKey / 8) * 8);
    const probes = Math.max(1, Math.min(30, Math.round(bitsPerKey * 0.69)));
    const f = new BloomFilter(new Uint8Array(numBits / 8), numBits, probes);
    for (const k of keys) f.add(k);
    return f;
  }

  private add(key: Uint8Array): void {
    let h = fnv1a(key);
    const delta = mix(h);
    for (let i = 0; i < this.probes; i++) {
      const bit = h % this.numBits;
      this.bits[bit >>> 3] = (this.bits[bit >>> 3] as number) | (1 << (bit & 7));
      h = (h + delta) >>> 0;
    }
  }

  /** False means the key is certainly absent. */
  mayContain(key: Uint8Array): boolean {
    let h = fnv1a(key);
    const delta = mix(h);
    for (let i = 0; i < this.probes; i++) {
      const bit = h % this.numBits;
      if (((this.bits[bit >>> 3] as number) & (1 << (bit & 7))) === 0) return false;
      h = (h + delta) >>> 0;
    }
    return true;
  }

  /** `u32 bit count | u8 probes | bits`. */
  encode(): Buffer {
    return new ByteWriter(this.bits.length + 8).u32(this.numBits).u8(this.probes).bytes(this.bits).finish();
  }

  /** Reads what {@link BloomFilter.encode} wrote. */
  static decode(payload: Uint8Array, what: string): BloomFilter {
    const r = new ByteReader(payload, what);
    const numBits = r.u32();
    const probes = r.u8();
    const bits = Buffer.from(r.bytes(numBits / 8));
    return new BloomFilter(bits, numBits, probes);
  }
}
