/**
 * Shipped plugins (encryption at rest, rate limiting), key providers and the tsyringe composition
 * root. Design: docs/design/0008-tenancy.md, "Plugins".
 *
 * @module
 */
export { logOptionsFrom, StrandTokens, tenantManagerOptionsFrom } from './container.js';
export { Encryption, isEncryptedPayload, isRedactedPayload } from './encryption.js';
export type { EncryptedPayload, EncryptionOptions, RedactedPayload } from './encryption.js';
export { KeyDestroyedError, LevelKeyProvider, MemoryKeyProvider } from './key-provider.js';
export type { KeyProvider } from './key-provider.js';
export { RateLimiter, TokenBucket } from './rate-limit.js';
export type { RateLimits } from './rate-limit.js';
