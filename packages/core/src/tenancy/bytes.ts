/**
 * The byte size that quotas and metering count for an event. Design: docs/design/0008-tenancy.md.
 *
 * @module
 */

/**
 * Logical size of an event: UTF-8 bytes of its JSON data plus JSON metadata. Independent of the
 * codec and of encryption, so quotas and bills do not change when either does.
 */
export function eventBytes(e: { data: unknown; metadata?: Record<string, unknown> | undefined }): number {
  let n = Buffer.byteLength(JSON.stringify(e.data) ?? 'null', 'utf8');
  if (e.metadata !== undefined) n += Buffer.byteLength(JSON.stringify(e.metadata), 'utf8');
  return n;
}
