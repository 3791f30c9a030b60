import test from 'ava'
import { createHash } from 'node:crypto'
import { eventIdempotencyKey, nameUuidFromBytes } from '../../models/event-ids.ts'

// Expected values printed by Java 21: UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)).
const javaOutputs: [string, string][] = [
  ['42', 'a1d0c6e8-3f02-3327-9846-1063f4ac58a6'],
  ['', 'd41d8cd9-8f00-3204-a980-0998ecf8427e'],
  ['ü', 'c03410a5-204b-31cd-8229-ff754688d743'],
  ['Großküche Süd', '81e21f4a-a8d2-3842-b412-b3a9b8548d5f'],
  ['😀', '2a02eac3-9d71-3a70-acf3-7579185927b6'],
]

for (const [name, expected] of javaOutputs) {
  test(`nameUuidFromBytes(${JSON.stringify(name)}) equals Java's ${expected}`, (t) => {
    t.is(nameUuidFromBytes(name), expected)
  })
}

// An independent derivation on the hex text: the version nibble becomes 3, and the variant
// nibble keeps its low two bits with the high bits set to 10.
function java3FromMd5Hex(hex: string): string {
  const variant = ((parseInt(hex[16], 16) & 0b0011) | 0b1000).toString(16)
  const masked = hex.slice(0, 12) + '3' + hex.slice(13, 16) + variant + hex.slice(17)
  return [masked.slice(0, 8), masked.slice(8, 12), masked.slice(12, 16), masked.slice(16, 20), masked.slice(20)].join('-')
}

test('nameUuidFromBytes matches MD5 with hand-applied version and variant bits', (t) => {
  for (const name of ['a', 'Müller GmbH', 'lead|type|1', 'x'.repeat(1000), '\u0000', 'Zürich ✓']) {
    const md5 = createHash('md5').update(Buffer.from(name, 'utf8')).digest('hex')
    t.is(nameUuidFromBytes(name), java3FromMd5Hex(md5), name)
  }
})

test('the independent derivation reproduces a Java output, so it is a fair yardstick', (t) => {
  t.is(java3FromMd5Hex(createHash('md5').update('42').digest('hex')), 'a1d0c6e8-3f02-3327-9846-1063f4ac58a6')
})

test('results are lower-case version-3 UUIDs with the IETF variant', (t) => {
  for (const name of ['', 'a', 'ü', 'freshplan']) {
    t.regex(nameUuidFromBytes(name), /^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  }
})

const leadId = '6f1c2a9e-3b4d-4c8e-9f00-1a2b3c4d5e6f'

test('event idempotency keys equal Java for "<leadId>|<type>|<version>"', (t) => {
  t.is(eventIdempotencyKey(leadId, 'freshplan.lead.created', 1), 'efe9bf99-07a3-3b77-8796-c5023b2753d0')
  t.is(eventIdempotencyKey(leadId, 'freshplan.lead.created', 2), '0dcefd9b-d48f-309e-80b5-2014267390ba')
  t.is(eventIdempotencyKey(leadId, 'freshplan.lead.status_changed', 2), '2ed80f72-cad8-30e5-91dc-d9372df5207d')
})

test('the same logical change always gives the same key; any part changing gives another', (t) => {
  const key = eventIdempotencyKey(leadId, 'freshplan.lead.updated', 5)
  t.is(eventIdempotencyKey(leadId, 'freshplan.lead.updated', 5), key)
  t.not(eventIdempotencyKey(leadId, 'freshplan.lead.updated', 6), key)
  t.not(eventIdempotencyKey(leadId, 'freshplan.lead.deleted', 5), key)
  t.not(eventIdempotencyKey('00000000-0000-0000-0000-000000000000', 'freshplan.lead.updated', 5), key)
})

test('a non-integer lead version is refused rather than hashed as text Java would never produce', (t) => {
  t.throws(() => eventIdempotencyKey(leadId, 'freshplan.lead.updated', 1.5), { instanceOf: RangeError })
  t.throws(() => eventIdempotencyKey(leadId, 'freshplan.lead.updated', Number.NaN), { instanceOf: RangeError })
})
