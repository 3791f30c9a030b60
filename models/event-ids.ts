// §7: event idempotency keys must equal what Java modules compute with UUID.nameUUIDFromBytes, so a
// consumer in either language recognises a re-delivered event by the same key.
import { createHash } from 'node:crypto'

/**
 * Java's `UUID.nameUUIDFromBytes(name.getBytes(UTF_8))`: a version-3 UUID from the MD5 of the
 * name's UTF-8 bytes alone. Unlike RFC 9562's UUIDv3 no namespace is hashed in front.
 */
export function nameUuidFromBytes(name: string): string {
  const bytes = createHash('md5').update(name, 'utf8').digest()
  bytes[6] = (bytes[6] & 0x0f) | 0x30 // version 3
  bytes[8] = (bytes[8] & 0x3f) | 0x80 // IETF variant (10xx)
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * The CloudEvent `idempotencykey` of one logical lead change: the same lead, event type and lead
 * version always give the same key. `version` must be an integer, as Java would print it. A change
 * that leaves the lead's representation (and so its version) as it was — an activity that only adds
 * to the timeline — is named by its own id instead: "<leadId>|<type>|<activityId>".
 */
export function eventIdempotencyKey(leadId: string, type: string, version: number | string): string {
  if (typeof version === 'number' && !Number.isSafeInteger(version)) throw new RangeError(`lead version must be an integer, got ${version}`)
  return nameUuidFromBytes(`${leadId}|${type}|${version}`)
}
