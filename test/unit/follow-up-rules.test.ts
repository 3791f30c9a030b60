import test from 'ava'
import {
  STARTER_BOX, bulkOffer, businessTypeExtra, followUpDueAt, isFollowUpSkipped, seasonalExtra, shouldSetReminder,
} from '../../models/follow-up-rules.ts'
import type { FollowUpKind } from '../../models/follow-up-rules.ts'
import { BUSINESS_TYPES, LEAD_STATUSES } from '../../models/lead-rules.ts'

const BERLIN = 'Europe/Berlin'
const ZURICH = 'Europe/Zurich'
const due = (registeredAt: string, kind: FollowUpKind, timeZone: string) => followUpDueAt(new Date(registeredAt), kind, timeZone).toISOString()

test('Wednesday lead: T+3 falls on Saturday and moves to Monday 09:00 Berlin time (winter, CET)', (t) => {
  // Wed 2026-01-14 10:00 CET → Sat 17th → Mon 19th 09:00 CET = 08:00 UTC.
  t.is(due('2026-01-14T09:00:00Z', 'T3', BERLIN), '2026-01-19T08:00:00.000Z')
})

test('Wednesday lead: T+3 on Saturday moves to Monday 09:00 Berlin time (summer, CEST)', (t) => {
  // Wed 2026-06-10 10:00 CEST → Sat 13th → Mon 15th 09:00 CEST = 07:00 UTC.
  t.is(due('2026-06-10T08:00:00Z', 'T3', BERLIN), '2026-06-15T07:00:00.000Z')
})

test('Thursday lead: T+3 falls on Sunday and moves to Monday 09:00', (t) => {
  t.is(due('2026-01-15T16:45:00Z', 'T3', BERLIN), '2026-01-19T08:00:00.000Z')
  t.is(due('2026-01-15T16:45:00Z', 'T3', ZURICH), '2026-01-19T08:00:00.000Z')
})

test('weekday due dates keep the registration time to the millisecond', (t) => {
  // Mon 2026-01-12 14:37:12.345 CET: T+3 Thursday, T+7 Monday.
  t.is(due('2026-01-12T13:37:12.345Z', 'T3', BERLIN), '2026-01-15T13:37:12.345Z')
  t.is(due('2026-01-12T13:37:12.345Z', 'T7', BERLIN), '2026-01-19T13:37:12.345Z')
  // Friday T+3 is Monday, Saturday T+3 is Tuesday: both weekdays, unchanged.
  t.is(due('2026-01-16T10:00:00Z', 'T3', BERLIN), '2026-01-19T10:00:00.000Z')
  t.is(due('2026-01-17T10:00:00Z', 'T3', BERLIN), '2026-01-20T10:00:00.000Z')
})

test('the weekday is taken in the territory zone, not in UTC', (t) => {
  // 2026-01-13 23:30 UTC is Tuesday in UTC but Wednesday 00:30 in Berlin: T+3 is a Saturday there.
  t.is(due('2026-01-13T23:30:00Z', 'T3', BERLIN), '2026-01-19T08:00:00.000Z')
  t.is(due('2026-01-13T23:30:00Z', 'T3', 'UTC'), '2026-01-16T23:30:00.000Z')
})

test('T+7 across the end-of-March DST switch keeps the wall-clock time (Berlin and Zurich)', (t) => {
  // Wed 2026-03-25 10:00 CET (09:00 UTC) → Wed 2026-04-01 10:00 CEST (08:00 UTC): 167 hours later.
  for (const zone of [BERLIN, ZURICH]) {
    const result = due('2026-03-25T09:00:00Z', 'T7', zone)
    t.is(result, '2026-04-01T08:00:00.000Z', zone)
    t.is(Date.parse(result) - Date.parse('2026-03-25T09:00:00Z'), 167 * 3600_000, zone)
  }
})

test('T+7 landing on the spring-forward Sunday moves to Monday 09:00 CEST', (t) => {
  // Sun 2026-03-22 02:30 CET; seven days later 02:30 does not exist, but it is a Sunday anyway.
  for (const zone of [BERLIN, ZURICH]) t.is(due('2026-03-22T01:30:00Z', 'T7', zone), '2026-03-30T07:00:00.000Z', zone)
})

test('T+7 across the end-of-October DST switch keeps the wall-clock time (Berlin and Zurich)', (t) => {
  // Wed 2026-10-21 10:00 CEST (08:00 UTC) → Wed 2026-10-28 10:00 CET (09:00 UTC): 169 hours later.
  for (const zone of [BERLIN, ZURICH]) {
    const result = due('2026-10-21T08:00:00Z', 'T7', zone)
    t.is(result, '2026-10-28T09:00:00.000Z', zone)
    t.is(Date.parse(result) - Date.parse('2026-10-21T08:00:00Z'), 169 * 3600_000, zone)
  }
})

test('a weekend due date right after the October switch is Monday 09:00 CET', (t) => {
  // Sat 2026-10-17 (CEST) + 7 → Sat 24th → Mon 26th 09:00 CET = 08:00 UTC.
  t.is(due('2026-10-17T12:00:00Z', 'T7', BERLIN), '2026-10-26T08:00:00.000Z')
  // Thu 2026-10-22 + 3 → Sun 25th, the switch day itself → Mon 26th 09:00 CET.
  t.is(due('2026-10-22T15:00:00Z', 'T3', ZURICH), '2026-10-26T08:00:00.000Z')
})

test('a wall-clock time skipped by a weekday DST gap moves forward by the gap', (t) => {
  // Tehran switched to summer time at Mon 2021-03-22 00:00 → 01:00; 00:30 that day did not exist.
  // Registered Mon 2021-03-15 00:30 +03:30 → due 01:30 +04:30, i.e. exactly 7 × 24 h later.
  t.is(due('2021-03-14T21:00:00Z', 'T7', 'Asia/Tehran'), '2021-03-21T21:00:00.000Z')
})

test('a wall-clock time that occurs twice on a weekday is the earlier one', (t) => {
  // Tehran went back at Wed 2021-09-22 00:00 → Tue 23:00, so Tue 23:30 happened at +04:30 and at +03:30.
  t.is(due('2021-09-14T19:00:00Z', 'T7', 'Asia/Tehran'), '2021-09-21T19:00:00.000Z')
})

test('an invalid date or zone is refused', (t) => {
  t.throws(() => followUpDueAt(new Date('nonsense'), 'T3', BERLIN), { instanceOf: RangeError })
  t.throws(() => followUpDueAt(new Date('2026-01-14T09:00:00Z'), 'T3', 'Mars/Olympus'), { instanceOf: RangeError })
})

test('follow-ups are skipped for CONVERTED, LOST, EXPIRED and DELETED leads', (t) => {
  const skipped = ['CONVERTED', 'LOST', 'EXPIRED', 'DELETED']
  for (const status of LEAD_STATUSES) {
    for (const kind of ['T3', 'T7'] as const) {
      t.is(isFollowUpSkipped({ status, t3SentAt: null, t7SentAt: null }, kind), skipped.includes(status), `${status} ${kind}`)
    }
  }
})

test('each follow-up is skipped once its own mark is set, and only then', (t) => {
  const sent = new Date('2026-01-17T08:00:00Z')
  t.true(isFollowUpSkipped({ status: 'ACTIVE', t3SentAt: sent, t7SentAt: null }, 'T3'))
  t.false(isFollowUpSkipped({ status: 'ACTIVE', t3SentAt: sent, t7SentAt: null }, 'T7'))
  t.false(isFollowUpSkipped({ status: 'REGISTERED', t3SentAt: null, t7SentAt: sent }, 'T3'))
  t.true(isFollowUpSkipped({ status: 'REGISTERED', t3SentAt: sent, t7SentAt: sent }, 'T7'))
})

test('the starter box name', (t) => {
  t.is(STARTER_BOX, 'Cook&Fresh® Starter-Box')
})

test('seasonal extra boundaries in Berlin time', (t) => {
  const key = (instant: string) => seasonalExtra(new Date(instant), BERLIN)?.key ?? null
  t.is(key('2026-02-28T22:59:59.999Z'), null) // Feb 28 23:59:59.999 CET
  t.is(key('2026-02-28T23:00:00Z'), 'ASPARAGUS') // Mar 1 00:00 CET
  t.is(key('2026-05-31T21:59:59.999Z'), 'ASPARAGUS') // May 31 23:59:59.999 CEST
  t.is(key('2026-05-31T22:00:00Z'), null) // Jun 1 00:00 CEST
  t.is(key('2026-08-31T21:59:59.999Z'), null)
  t.is(key('2026-08-31T22:00:00Z'), 'OKTOBERFEST') // Sep 1
  t.is(key('2026-10-31T22:59:59.999Z'), 'OKTOBERFEST') // Oct 31 23:59:59.999 CET
  t.is(key('2026-10-31T23:00:00Z'), 'CHRISTMAS') // Nov 1
  t.is(key('2026-12-31T22:59:59.999Z'), 'CHRISTMAS')
  t.is(key('2026-12-31T23:00:00Z'), null) // Jan 1 2027
})

test('the season is the month in the given zone', (t) => {
  const lastFebruaryEveningUtc = new Date('2026-02-28T23:30:00Z')
  t.is(seasonalExtra(lastFebruaryEveningUtc, 'UTC'), null)
  t.is(seasonalExtra(lastFebruaryEveningUtc, ZURICH)?.key, 'ASPARAGUS')
})

test('seasonal extras carry German labels', (t) => {
  t.deepEqual(seasonalExtra(new Date('2026-04-15T10:00:00Z'), BERLIN), { key: 'ASPARAGUS', label: 'Spargel-Saisonpaket mit Sauce Hollandaise' })
  t.deepEqual(seasonalExtra(new Date('2026-09-20T10:00:00Z'), BERLIN), { key: 'OKTOBERFEST', label: 'Oktoberfest-Paket mit Bayerischen Spezialitäten' })
  t.deepEqual(seasonalExtra(new Date('2026-12-01T10:00:00Z'), BERLIN), { key: 'CHRISTMAS', label: 'Weihnachts-Menü-Paket' })
  t.is(seasonalExtra(new Date('2026-07-01T10:00:00Z'), BERLIN), null)
})

test('business type extras: a distinct German extra per type, bestsellers for SONSTIGES and null', (t) => {
  t.deepEqual(businessTypeExtra('RESTAURANT'), { key: 'FEINKOST_SAUCEN', label: 'Feinkost-Saucen-Set' })
  t.deepEqual(businessTypeExtra('HOTEL'), { key: 'FRUEHSTUECK', label: 'Frühstücksbuffet-Set' })
  t.deepEqual(businessTypeExtra('KANTINE'), { key: 'MENUE_KOMPONENTEN', label: 'Großküchen-Menükomponenten' })
  t.deepEqual(businessTypeExtra(null), { key: 'KLASSIKER', label: 'Klassiker-Set' })
  t.deepEqual(businessTypeExtra('SONSTIGES'), businessTypeExtra(null))
  const keys = BUSINESS_TYPES.map((type) => businessTypeExtra(type).key)
  t.is(new Set(keys).size, BUSINESS_TYPES.length)
})

test('bulk offer per business type', (t) => {
  t.deepEqual(bulkOffer('RESTAURANT'), { discountPercent: 15, minimumOrder: 500 })
  t.deepEqual(bulkOffer('HOTEL'), { discountPercent: 20, minimumOrder: 1000 })
  t.deepEqual(bulkOffer('KANTINE'), { discountPercent: 25, minimumOrder: 2000 })
  t.deepEqual(bulkOffer('CATERING'), { discountPercent: 10, minimumOrder: 300 })
  for (const type of ['GROSSHANDEL', 'LEH', 'BILDUNG', 'GESUNDHEIT', 'SONSTIGES'] as const) {
    t.deepEqual(bulkOffer(type), { discountPercent: 10, minimumOrder: 250 }, type)
  }
  t.deepEqual(bulkOffer(null), { discountPercent: 10, minimumOrder: 250 })
})

test('bulk offers are copies: changing one does not change the next', (t) => {
  bulkOffer('HOTEL').discountPercent = 99
  businessTypeExtra('HOTEL').label = 'changed'
  t.is(bulkOffer('HOTEL').discountPercent, 20)
  t.is(businessTypeExtra('HOTEL').label, 'Frühstücksbuffet-Set')
})

test('reminder: REGISTERED or ACTIVE without a meaningful activity in the last 7 days', (t) => {
  const now = new Date('2026-01-21T09:00:00Z')
  const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000)
  for (const status of ['REGISTERED', 'ACTIVE'] as const) {
    t.true(shouldSetReminder({ status }, null, now), `${status}, never`)
    t.true(shouldSetReminder({ status }, new Date(daysAgo(7).getTime() - 1), now), `${status}, 7 days and 1 ms ago`)
    t.false(shouldSetReminder({ status }, daysAgo(7), now), `${status}, exactly 7 days ago`)
    t.false(shouldSetReminder({ status }, daysAgo(1), now), `${status}, yesterday`)
    t.false(shouldSetReminder({ status }, daysAgo(-1), now), `${status}, in the future`)
  }
})

test('reminder: never for other statuses', (t) => {
  const now = new Date('2026-01-21T09:00:00Z')
  for (const status of LEAD_STATUSES.filter((status) => status !== 'REGISTERED' && status !== 'ACTIVE')) {
    t.false(shouldSetReminder({ status }, null, now), status)
  }
})
