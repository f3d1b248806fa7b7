/**
 * The byte size that quotas and metering count for an event. Design: docs/design/0008-tenancy.md.
 *
 * @module
 */
import { InvalidEventError } from '../errors.js';

// BigInts (msgpack codec) count as their decimal digits; binary data counts as JSON would show it.
const replacer = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/**
 * Logical size of an event: UTF-8 bytes of its JSON data plus JSON metadata. Independent of the
 * codec and of encryption, so quotas and bills do not change when either does. Throws
 * `STRAND_INVALID_EVENT` for data JSON cannot render (cycles).
 */
export function eventBytes(e: { type?: string; data: unknown; metadata?: Record<string, unknown> | undefined }): number {
  try {
    let n = Buffer.byteLength(JSON.stringify(e.data, replacer) ?? 'null', 'utf8');
    if (e.metadata !== undefined) n += Buffer.byteLength(JSON.stringify(e.metadata, replacer), 'utf8');
    return n;
  } catch (cause) {
    throw new InvalidEventError(`data of a ${e.type ?? 'event'} event cannot be sized as JSON (${(cause as Error).message}); remove cycles`, { type: e.type });
  }
}

/**
 * {@link eventBytes} of an event whose payload is JSON text (`EventLog.followJson`): the same
 * count, from the text as it is.
 */
export function jsonTextEventBytes(e: { type?: string; dataJson: string; metadata?: Record<string, unknown> | undefined }): number {
  try {
    let n = Buffer.byteLength(e.dataJson === '' ? 'null' : e.dataJson, 'utf8');
    if (e.metadata !== undefined) n += Buffer.byteLength(JSON.stringify(e.metadata, replacer), 'utf8');
    return n;
  } catch (cause) {
    throw new InvalidEventError(`metadata of a ${e.type ?? 'event'} event cannot be sized as JSON (${(cause as Error).message}); remove cycles`, { type: e.type });
  }
}
