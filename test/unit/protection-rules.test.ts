import test from 'ava'
import {
  DEFAULT_PROTECTION_SETTINGS, addCalendarDays, addCalendarMonths, clockAfterProgress, dueTransition, nextTransition, pausedSummary,
  protectionDates, resumedClock, statusAt, type ProtectionClock,
} from '../../models/protection-rules.ts'

const BERLIN = 'Europe/Berlin'
const ZURICH = 'Europe/Zurich'
const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

/** Wall-clock time in a zone as an instant, by the zone's offset at that time (what the tests state in local time). */
function local(wall: string, timeZone: string): Date {
  // Both zones are UTC+1 in winter and UTC+2 in summer; pick by trying both.
  for (const offset of ['+01:00', '+02:00']) {
    const candidate = new Date(`${wall}${offset}`)
    const shown = new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(candidate).replace(' ', 'T')
    if (shown.startsWith(wall.length === 16 ? wall : wall.slice(0, 19))) return candidate
  }
  throw new Error(`${wall} does not exist in ${timeZone}`)
}
const iso = (date: Date) => date.toISOString()

function clock(start: Date, overrides: Partial<ProtectionClock> = {}): ProtectionClock {
  return { protectionStartAt: start, lastProgressAt: null, pausedSeconds: 0, progressPausedSeconds: 0, clockStoppedAt: null, ...overrides }
}

// ---- the acceptance dates of issue 17 ---------------------------------------------------------------

test('2025-01-01 10:00 + 6 months = 2025-07-01 10:00 (Berlin: CET → CEST, still 10:00 local)', (t) => {
  const start = local('2025-01-01T10:00', BERLIN)
  t.is(iso(start), '2025-01-01T09:00:00.000Z')
  t.is(iso(addCalendarMonths(start, 6, BERLIN)), iso(local('2025-07-01T10:00', BERLIN)))
  t.is(iso(addCalendarMonths(start, 6, BERLIN)), '2025-07-01T08:00:00.000Z')
  t.is(iso(protectionDates(clock(start), DEFAULT_PROTECTION_SETTINGS, BERLIN).protectionUntil), '2025-07-01T08:00:00.000Z')
})

test('2025-03-15 14:30 + 3 months = 2025-06-15 14:30 (across the March DST change, Berlin and Zurich)', (t) => {
  for (const zone of [BERLIN, ZURICH]) {
    const start = local('2025-03-15T14:30', zone)
    t.is(iso(start), '2025-03-15T13:30:00.000Z')
    t.is(iso(addCalendarMonths(start, 3, zone)), '2025-06-15T12:30:00.000Z', zone)
    t.is(iso(protectionDates(clock(start), { ...DEFAULT_PROTECTION_SETTINGS, protectionMonths: 3 }, zone).protectionUntil), '2025-06-15T12:30:00.000Z')
  }
})

test('2025-08-31 + 6 months = 2026-02-28 (day clamped), and in a leap year 29 Feb', (t) => {
  const start = local('2025-08-31T09:15', BERLIN)
  t.is(iso(addCalendarMonths(start, 6, BERLIN)), iso(local('2026-02-28T09:15', BERLIN)))
  t.is(iso(addCalendarMonths(local('2023-08-31T09:15', BERLIN), 6, BERLIN)), iso(local('2024-02-29T09:15', BERLIN)))
  t.is(iso(addCalendarMonths(local('2025-03-31T09:15', ZURICH), 6, ZURICH)), iso(local('2025-09-30T09:15', ZURICH)))
})

test('the calendar date is the territory\'s: 31 Aug 00:30 Berlin is 30 Aug in UTC, and still clamps to 28 Feb', (t) => {
  const start = local('2025-08-31T00:30', BERLIN)
  t.is(iso(start), '2025-08-30T22:30:00.000Z')
  t.is(iso(addCalendarMonths(start, 6, BERLIN)), iso(local('2026-02-28T00:30', BERLIN)))
})

test('DST in autumn does not shift the 60-day progress deadline by an hour (Berlin and Zurich)', (t) => {
  for (const zone of [BERLIN, ZURICH]) {
    // 2025-09-10 16:00 CEST + 60 days = 2025-11-09 16:00 CET: 60 × 24 h + 1 h of elapsed time.
    const start = local('2025-09-10T16:00', zone)
    const dates = protectionDates(clock(start), DEFAULT_PROTECTION_SETTINGS, zone)
    t.is(iso(dates.progressDeadline), iso(local('2025-11-09T16:00', zone)), zone)
    t.is(dates.progressDeadline.getTime() - start.getTime(), 60 * DAY + 60 * MINUTE)
    // Reminder 7 days before and expiry 10 days after, also at 16:00 local.
    t.is(iso(dates.reminderAt), iso(local('2025-11-02T16:00', zone)))
    t.is(iso(dates.graceEndsAt), iso(local('2025-11-19T16:00', zone)))
  }
})

test('DST in spring: the deadline keeps the wall-clock time (one hour less of elapsed time)', (t) => {
  for (const zone of [BERLIN, ZURICH]) {
    const start = local('2026-02-01T08:00', zone)
    const deadline = protectionDates(clock(start), DEFAULT_PROTECTION_SETTINGS, zone).progressDeadline
    t.is(iso(deadline), iso(local('2026-04-02T08:00', zone)))
    t.is(deadline.getTime() - start.getTime(), 60 * DAY - 60 * MINUTE)
  }
})

test('a pause of N minutes extends both dates by exactly N minutes', (t) => {
  const start = local('2025-01-01T10:00', BERLIN)
  const before = protectionDates(clock(start), DEFAULT_PROTECTION_SETTINGS, BERLIN)
  for (const minutes of [1, 90, 60 * 24 * 3 + 7]) {
    const stoppedAt = new Date(start.getTime() + 5 * DAY)
    const resumed = resumedClock(clock(start, { clockStoppedAt: stoppedAt }), new Date(stoppedAt.getTime() + minutes * MINUTE))
    t.is(resumed.pauseSeconds, minutes * 60)
    t.is(resumed.clockStoppedAt, null)
    const after = protectionDates(resumed, DEFAULT_PROTECTION_SETTINGS, BERLIN)
    t.is(after.protectionUntil.getTime() - before.protectionUntil.getTime(), minutes * MINUTE)
    t.is(after.progressDeadline.getTime() - before.progressDeadline.getTime(), minutes * MINUTE)
  }
})

test('a pause across a DST change still extends by its elapsed minutes, not by wall-clock hours', (t) => {
  // Stopped Sat 2025-10-25 12:00 CEST, resumed Sun 2025-10-26 12:00 CET: 25 hours elapsed.
  const start = local('2025-10-01T10:00', ZURICH)
  const resumed = resumedClock(clock(start, { clockStoppedAt: local('2025-10-25T12:00', ZURICH) }), local('2025-10-26T12:00', ZURICH))
  t.is(resumed.pauseSeconds, 25 * 3600)
  const base = protectionDates(clock(start), DEFAULT_PROTECTION_SETTINGS, ZURICH)
  t.is(protectionDates(resumed, DEFAULT_PROTECTION_SETTINGS, ZURICH).protectionUntil.getTime() - base.protectionUntil.getTime(), 25 * 3600_000)
})

test('progress moves the deadline: last progress + 60 days; a pause before the progress no longer counts for it', (t) => {
  const start = local('2025-01-01T10:00', BERLIN)
  const paused = resumedClock(clock(start, { clockStoppedAt: local('2025-01-05T10:00', BERLIN) }), local('2025-01-06T10:00', BERLIN))
  t.is(paused.progressPausedSeconds, 86_400)
  const progressed = clockAfterProgress(paused, local('2025-02-01T11:00', BERLIN))
  const dates = protectionDates(progressed, DEFAULT_PROTECTION_SETTINGS, BERLIN)
  t.is(iso(dates.progressDeadline), iso(local('2025-04-02T11:00', BERLIN)))
  // protectionUntil keeps the pause.
  t.is(iso(dates.protectionUntil), iso(new Date(local('2025-07-01T10:00', BERLIN).getTime() + DAY)))
  // An older progress activity (posted late, occurred earlier) does not move the anchor back.
  t.is(clockAfterProgress(progressed, local('2025-01-20T10:00', BERLIN)), progressed)
})

test('a pause running while progress happens counts for the deadline only from the progress on', (t) => {
  const start = local('2025-01-01T10:00', BERLIN)
  const stopped = clock(start, { clockStoppedAt: local('2025-01-10T10:00', BERLIN) })
  const progressed = clockAfterProgress(stopped, local('2025-01-12T10:00', BERLIN))
  const resumed = resumedClock(progressed, local('2025-01-15T10:00', BERLIN))
  t.is(resumed.pausedSeconds, 5 * 86_400)
  t.is(resumed.progressPausedSeconds, 3 * 86_400)
})

test('backdating: a start before the newest progress keeps the progress as anchor; a later one wins over older progress', (t) => {
  const progress = local('2025-03-01T10:00', BERLIN)
  const backdated = protectionDates(clock(local('2024-12-01T10:00', BERLIN), { lastProgressAt: progress }), DEFAULT_PROTECTION_SETTINGS, BERLIN)
  t.is(iso(backdated.protectionUntil), iso(local('2025-06-01T10:00', BERLIN)))
  t.is(iso(backdated.progressDeadline), iso(local('2025-04-30T10:00', BERLIN)))
  const movedLater = protectionDates(clock(local('2025-03-05T10:00', BERLIN), { lastProgressAt: progress }), DEFAULT_PROTECTION_SETTINGS, BERLIN)
  t.is(iso(movedLater.progressDeadline), iso(local('2025-05-04T10:00', BERLIN)))
})

// ---- states and transitions -------------------------------------------------------------------------

const start = new Date('2025-01-01T09:00:00Z')
const dates = protectionDates(clock(start), DEFAULT_PROTECTION_SETTINGS, BERLIN)

test('the dates of a lead without progress: reminder 53 d, deadline 60 d, expiry 70 d, protection 6 M', (t) => {
  t.is(iso(dates.reminderAt), '2025-02-23T09:00:00.000Z')
  t.is(iso(dates.progressDeadline), '2025-03-02T09:00:00.000Z')
  t.is(iso(dates.graceEndsAt), '2025-03-12T09:00:00.000Z')
  t.is(iso(dates.protectionUntil), '2025-07-01T08:00:00.000Z')
})

test('status at time t along the timeline, to the millisecond', (t) => {
  const lead = { status: 'REGISTERED' as const, clockStoppedAt: null }
  const at = (ms: number) => statusAt(lead, dates, new Date(ms))
  t.is(at(dates.reminderAt.getTime() - 1), 'REGISTERED')
  t.is(at(dates.reminderAt.getTime()), 'REMINDER')
  t.is(at(dates.progressDeadline.getTime() - 1), 'REMINDER')
  t.is(at(dates.progressDeadline.getTime()), 'GRACE_PERIOD')
  t.is(at(dates.graceEndsAt.getTime() - 1), 'GRACE_PERIOD')
  t.is(at(dates.graceEndsAt.getTime()), 'EXPIRED')
})

test('next transition and its due time for each protected status', (t) => {
  t.like(nextTransition({ status: 'REGISTERED', clockStoppedAt: null }, dates), { kind: 'REMINDER', from: 'REGISTERED', dueAt: dates.reminderAt })
  t.like(nextTransition({ status: 'ACTIVE', clockStoppedAt: null }, dates), { kind: 'REMINDER', dueAt: dates.reminderAt })
  t.like(nextTransition({ status: 'REMINDER', clockStoppedAt: null }, dates), { kind: 'GRACE_PERIOD', dueAt: dates.progressDeadline })
  t.like(nextTransition({ status: 'GRACE_PERIOD', clockStoppedAt: null }, dates), { kind: 'EXPIRED', dueAt: dates.graceEndsAt, cause: 'GRACE_PERIOD_ENDED' })
  for (const status of ['QUALIFIED', 'CONVERTED', 'LOST', 'EXPIRED', 'DELETED'] as const) t.is(nextTransition({ status, clockStoppedAt: null }, dates), null, status)
})

test('a stopped clock stops everything: no transition is due or next', (t) => {
  const stopped = { status: 'GRACE_PERIOD' as const, clockStoppedAt: new Date('2025-03-05T00:00:00Z') }
  t.is(dueTransition(stopped, dates, new Date('2030-01-01T00:00:00Z')), null)
  t.is(nextTransition(stopped, dates), null)
})

test('a late run goes one allowed step at a time (REGISTERED → REMINDER → GRACE_PERIOD), never REGISTERED → GRACE_PERIOD', (t) => {
  const late = new Date(dates.progressDeadline.getTime() + DAY)
  t.like(dueTransition({ status: 'REGISTERED', clockStoppedAt: null }, dates, late), { kind: 'REMINDER', from: 'REGISTERED' })
  t.like(dueTransition({ status: 'REMINDER', clockStoppedAt: null }, dates, late), { kind: 'GRACE_PERIOD', from: 'REMINDER' })
  t.is(dueTransition({ status: 'GRACE_PERIOD', clockStoppedAt: null }, dates, late), null)
  // Past the grace period every protected status expires directly (§3 allows X → EXPIRED).
  const veryLate = new Date(dates.graceEndsAt.getTime() + DAY)
  t.like(dueTransition({ status: 'ACTIVE', clockStoppedAt: null }, dates, veryLate), { kind: 'EXPIRED', from: 'ACTIVE' })
})

test('protectionUntil ends the claim even with recent progress (not QUALIFIED in time)', (t) => {
  const progressed = protectionDates(clock(start, { lastProgressAt: new Date('2025-06-20T09:00:00Z') }), DEFAULT_PROTECTION_SETTINGS, BERLIN)
  t.true(progressed.protectionUntil < progressed.reminderAt)
  const next = nextTransition({ status: 'ACTIVE', clockStoppedAt: null }, progressed)
  t.like(next, { kind: 'EXPIRED', cause: 'PROTECTION_ENDED', dueAt: progressed.protectionUntil })
  t.is(statusAt({ status: 'ACTIVE', clockStoppedAt: null }, progressed, progressed.protectionUntil), 'EXPIRED')
})

test('tenant settings change every date', (t) => {
  const custom = protectionDates(clock(start), { protectionMonths: 12, progressDays: 30, graceDays: 5, warningDays: 3 }, BERLIN)
  t.is(iso(custom.protectionUntil), '2026-01-01T09:00:00.000Z')
  t.is(iso(custom.progressDeadline), '2025-01-31T09:00:00.000Z')
  t.is(iso(custom.reminderAt), '2025-01-28T09:00:00.000Z')
  t.is(iso(custom.graceEndsAt), '2025-02-05T09:00:00.000Z')
})

test('calendar days and the pause summary', (t) => {
  t.is(iso(addCalendarDays(local('2025-03-29T10:00', BERLIN), 1, BERLIN)), iso(local('2025-03-30T10:00', BERLIN)))
  t.is(pausedSummary(60), 'paused: 1 minute')
  t.is(pausedSummary(90 * 60), 'paused: 90 minutes')
  t.throws(() => addCalendarDays(new Date('x'), 1, BERLIN), { instanceOf: RangeError })
})
