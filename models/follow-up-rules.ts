// §6 follow-up automation as pure rules: when T+3/T+7 are due, when they are skipped, and what the
// sample and bulk-order e-mails offer. Time zones come from the lead's territory (the `territories` table).
import type { BusinessType, LeadStatus } from './lead-rules.ts'

export type FollowUpKind = 'T3' | 'T7'

export const FOLLOW_UP_DELAY_DAYS: Readonly<Record<FollowUpKind, number>> = { T3: 3, T7: 7 }

/** Weekend due times move to this hour of the following Monday, territory time. */
export const WEEKEND_FOLLOW_UP_HOUR = 9

const DAY_MS = 24 * 60 * 60 * 1000

type WallClock = { year: number; month: number; day: number; hour: number; minute: number; second: number; millisecond: number }

const wallClockFormats = new Map<string, Intl.DateTimeFormat>()

function wallClockFormat(timeZone: string): Intl.DateTimeFormat {
  let format = wallClockFormats.get(timeZone)
  if (!format) {
    // Throws RangeError for an unknown zone, which is what a caller passing one deserves.
    format = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    })
    wallClockFormats.set(timeZone, format)
  }
  return format
}

/** The date and time a wall clock in `timeZone` shows at `instantMs`. */
function wallClockAt(instantMs: number, timeZone: string): WallClock {
  const fields: Record<string, number> = {}
  for (const part of wallClockFormat(timeZone).formatToParts(instantMs)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value)
  }
  return {
    year: fields.year, month: fields.month, day: fields.day, hour: fields.hour, minute: fields.minute, second: fields.second,
    // Intl here has no milliseconds; they do not depend on the zone anyway.
    millisecond: ((instantMs % 1000) + 1000) % 1000,
  }
}

/** Wall-clock fields read as if they were UTC: what "local time as a number" means below. */
function wallClockAsUtcMs(wall: WallClock): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.millisecond)
}

/** The zone's offset from UTC at `instantMs`, in milliseconds (e.g. +3 600 000 for CET). */
function utcOffsetMs(instantMs: number, timeZone: string): number {
  return wallClockAsUtcMs(wallClockAt(instantMs, timeZone)) - instantMs
}

/**
 * The instant at which a wall clock in `timeZone` shows `wall`. Like Temporal's "compatible"
 * disambiguation: a time that occurs twice (clocks go back) is the earlier instant, a time that
 * does not exist (clocks go forward) is moved forward by the length of the gap.
 */
function instantOfWallClock(wall: WallClock, timeZone: string): number {
  const local = wallClockAsUtcMs(wall)
  // The offsets a day before and after cover both sides of any transition near this time.
  const offsetBefore = utcOffsetMs(local - DAY_MS, timeZone)
  const offsetAfter = utcOffsetMs(local + DAY_MS, timeZone)
  const candidates = [local - offsetBefore, local - offsetAfter]
    .filter((instant) => instant + utcOffsetMs(instant, timeZone) === local)
    .sort((a, b) => a - b)
  return candidates.length > 0 ? candidates[0] : local - offsetBefore
}

/** Calendar arithmetic on a date (time of day kept), independent of any zone. */
function addCalendarDays(wall: WallClock, days: number): WallClock {
  const date = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + days))
  return { ...wall, year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() }
}

/** 0 = Sunday … 6 = Saturday, of the wall clock's calendar date. */
function weekdayOf(wall: WallClock): number {
  return new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay()
}

/**
 * When follow-up `kind` is due: `registeredAt` plus 3 or 7 calendar days in `timeZone`, at the same
 * wall-clock time (so a DST change in between does not shift it by an hour); if that day is a
 * Saturday or Sunday, the following Monday at 09:00 in `timeZone` instead.
 */
export function followUpDueAt(registeredAt: Date, kind: FollowUpKind, timeZone: string): Date {
  const registeredMs = registeredAt.getTime()
  if (Number.isNaN(registeredMs)) throw new RangeError('registeredAt is not a valid date')
  let due = addCalendarDays(wallClockAt(registeredMs, timeZone), FOLLOW_UP_DELAY_DAYS[kind])
  const weekday = weekdayOf(due)
  if (weekday === 6 || weekday === 0) {
    due = { ...addCalendarDays(due, weekday === 6 ? 2 : 1), hour: WEEKEND_FOLLOW_UP_HOUR, minute: 0, second: 0, millisecond: 0 }
  }
  return new Date(instantOfWallClock(due, timeZone))
}

// §6: a follow-up makes no sense once the lead is decided, expired or gone.
const FOLLOW_UP_SKIPPED_STATUSES: readonly LeadStatus[] = ['CONVERTED', 'LOST', 'EXPIRED', 'DELETED']

/** Whether follow-up `kind` must not run (again) for this lead. */
export function isFollowUpSkipped(lead: { status: LeadStatus; t3SentAt: Date | null; t7SentAt: Date | null }, kind: FollowUpKind): boolean {
  if (FOLLOW_UP_SKIPPED_STATUSES.includes(lead.status)) return true
  // T+7 looks at its own mark only: a sent T+3 is the normal case before T+7, not a reason to skip.
  return (kind === 'T3' ? lead.t3SentAt : lead.t7SentAt) !== null
}

export const STARTER_BOX = 'Cook&Fresh® Starter-Box'

export type SeasonalExtraKey = 'ASPARAGUS' | 'OKTOBERFEST' | 'CHRISTMAS'

const SEASONAL_EXTRAS: readonly { months: readonly number[]; key: SeasonalExtraKey; label: string }[] = [
  { months: [3, 4, 5], key: 'ASPARAGUS', label: 'Spargel-Saisonpaket mit Sauce Hollandaise' },
  { months: [9, 10], key: 'OKTOBERFEST', label: 'Oktoberfest-Paket mit Bayerischen Spezialitäten' },
  { months: [11, 12], key: 'CHRISTMAS', label: 'Weihnachts-Menü-Paket' },
]

/** The seasonal extra of the sample box by the month in `timeZone` at `at`; none in Jan, Feb, Jun–Aug. */
export function seasonalExtra(at: Date, timeZone: string): { key: SeasonalExtraKey; label: string } | null {
  const { month } = wallClockAt(at.getTime(), timeZone)
  const season = SEASONAL_EXTRAS.find((candidate) => candidate.months.includes(month))
  return season ? { key: season.key, label: season.label } : null
}

// The extra in the sample box per business type: what that kind of kitchen buys most from a
// convenience supplier. SONSTIGES and unknown types get the bestsellers.
const BUSINESS_TYPE_EXTRAS: Readonly<Record<BusinessType, { key: string; label: string }>> = {
  RESTAURANT: { key: 'FEINKOST_SAUCEN', label: 'Feinkost-Saucen-Set' }, // à-la-carte kitchens finish sauces per plate
  HOTEL: { key: 'FRUEHSTUECK', label: 'Frühstücksbuffet-Set' }, // the breakfast buffet is every hotel's daily volume
  CATERING: { key: 'FINGERFOOD', label: 'Fingerfood-Auswahl' }, // events and receptions
  KANTINE: { key: 'MENUE_KOMPONENTEN', label: 'Großküchen-Menükomponenten' }, // large batches of a daily menu
  GROSSHANDEL: { key: 'SORTIMENTSMUSTER', label: 'Sortiments-Musterkollektion' }, // resellers judge the range
  LEH: { key: 'FRISCHETHEKE', label: 'Frischetheken-Sortiment' }, // retail sells over the fresh counter
  BILDUNG: { key: 'SCHULVERPFLEGUNG', label: 'Kita- und Schulmenü-Set' }, // child-friendly menus
  GESUNDHEIT: { key: 'SCHONKOST', label: 'Schonkost- und Diät-Set' }, // hospitals and care homes
  SONSTIGES: { key: 'KLASSIKER', label: 'Klassiker-Set' },
}

export function businessTypeExtra(type: BusinessType | null): { key: string; label: string } {
  return { ...BUSINESS_TYPE_EXTRAS[type ?? 'SONSTIGES'] }
}

export type BulkOffer = { discountPercent: number; minimumOrder: number }

// §6: minimum order in the territory's currency (EUR or CHF), not converted.
const BULK_OFFERS: Readonly<Partial<Record<BusinessType, BulkOffer>>> = {
  RESTAURANT: { discountPercent: 15, minimumOrder: 500 },
  HOTEL: { discountPercent: 20, minimumOrder: 1000 },
  KANTINE: { discountPercent: 25, minimumOrder: 2000 },
  CATERING: { discountPercent: 10, minimumOrder: 300 },
}
const DEFAULT_BULK_OFFER: BulkOffer = { discountPercent: 10, minimumOrder: 250 }

/** The T+7 bulk-order offer by business type. */
export function bulkOffer(type: BusinessType | null): BulkOffer {
  return { ...((type !== null && BULK_OFFERS[type]) || DEFAULT_BULK_OFFER) }
}

/** §6 "no meaningful activity in the last 7 days": a window of 7 × 24 hours ending at `now`. */
export const REMINDER_INACTIVITY_MS = 7 * DAY_MS

const REMINDABLE_STATUSES: readonly LeadStatus[] = ['REGISTERED', 'ACTIVE']

/**
 * Whether T+7 moves the lead to REMINDER: it is REGISTERED or ACTIVE and its last meaningful
 * activity is older than 7 days (or there was none). An activity exactly 7 days old still counts
 * as recent, so does one in the future (clock skew between writers).
 */
export function shouldSetReminder(lead: { status: LeadStatus }, lastMeaningfulActivityAt: Date | null, now: Date): boolean {
  if (!REMINDABLE_STATUSES.includes(lead.status)) return false
  if (lastMeaningfulActivityAt === null) return true
  return now.getTime() - lastMeaningfulActivityAt.getTime() > REMINDER_INACTIVITY_MS
}
