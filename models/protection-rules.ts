// §10 lead protection as pure functions: the dates a lead's claim lives by, what state a lead should
// be in at a given time, and which transition comes next and when. No I/O; the time zone is the
// lead's territory's (territories.time_zone), the settings are the tenant's.
//
// Calendar arithmetic runs in the territory's time zone (date-fns on @date-fns/tz): "+ 6 months" and
// "+ 60 days" keep the wall-clock time across a DST change, and a month without the start's day
// clamps to its last day (31 Aug + 6 M = 28/29 Feb). Paused time is then added as elapsed seconds:
// a pause of N minutes moves a deadline by exactly N minutes.
import { TZDate } from '@date-fns/tz'
import { addDays, addMonths } from 'date-fns'
import type { LeadStatus } from './lead-rules.ts'

/** Per-tenant settings (table `lead_protection_settings`); the defaults are §10's. */
export interface ProtectionSettings {
  /** Protection lasts this many calendar months from `protectionStartAt`. */
  protectionMonths: number
  /** Progress must happen within this many days of the last progress (or registration). */
  progressDays: number
  /** GRACE_PERIOD lasts this many days after a missed progress deadline. */
  graceDays: number
  /** The REMINDER comes this many days before the progress deadline. */
  warningDays: number
}

export const DEFAULT_PROTECTION_SETTINGS: Readonly<ProtectionSettings> = Object.freeze({ protectionMonths: 6, progressDays: 60, graceDays: 10, warningDays: 7 })

/** Bounds of each setting: what the settings table's CHECK constraints and any settings API accept. */
export const PROTECTION_SETTING_BOUNDS: Readonly<Record<keyof ProtectionSettings, { min: number; max: number }>> = {
  protectionMonths: { min: 1, max: 60 },
  progressDays: { min: 1, max: 365 },
  graceDays: { min: 0, max: 90 },
  warningDays: { min: 0, max: 90 },
}

/** `at` plus `months` calendar months in `timeZone`, same wall-clock time, day clamped to the month's end. */
export function addCalendarMonths(at: Date, months: number, timeZone: string): Date {
  return new Date(addMonths(new TZDate(validMs(at), timeZone), months).getTime())
}

/** `at` plus `days` calendar days in `timeZone` (negative: back), same wall-clock time. */
export function addCalendarDays(at: Date, days: number, timeZone: string): Date {
  return new Date(addDays(new TZDate(validMs(at), timeZone), days).getTime())
}

function validMs(at: Date): number {
  const ms = at.getTime()
  if (Number.isNaN(ms)) throw new RangeError('not a valid date')
  return ms
}

/** What a lead's protection dates derive from (all stored on the lead row). */
export interface ProtectionClock {
  /** = `registeredAt`; backdating moves it. */
  protectionStartAt: Date
  /** When the newest progress activity happened; null: none yet (the deadline counts from the start). */
  lastProgressAt: Date | null
  /** Every finished pause, in seconds: extends `protectionUntil`. */
  pausedSeconds: number
  /** The part of the finished pauses that lies after the progress anchor: extends `progressDeadline`. */
  progressPausedSeconds: number
  /** Set while the clock is stopped: nothing moves, and the pause counts only once it ends. */
  clockStoppedAt: Date | null
}

export interface ProtectionDates {
  protectionStartAt: Date
  /** Start + months (calendar, clamped) + paused time. */
  protectionUntil: Date
  /** Last progress (or start) + days + paused time since then. */
  progressDeadline: Date
  /** Deadline − warning days: REMINDER. */
  reminderAt: Date
  /** Deadline + grace days: EXPIRED. */
  graceEndsAt: Date
}

/** The progress deadline counts from the newest progress, or from the start if there was none or it is older (backdating). */
export function progressAnchor(clock: Pick<ProtectionClock, 'protectionStartAt' | 'lastProgressAt'>): Date {
  const { protectionStartAt: start, lastProgressAt: progress } = clock
  return progress !== null && progress.getTime() > start.getTime() ? progress : start
}

export function protectionDates(clock: ProtectionClock, settings: ProtectionSettings, timeZone: string): ProtectionDates {
  const protectionUntil = plusSeconds(addCalendarMonths(clock.protectionStartAt, settings.protectionMonths, timeZone), clock.pausedSeconds)
  const progressDeadline = plusSeconds(addCalendarDays(progressAnchor(clock), settings.progressDays, timeZone), clock.progressPausedSeconds)
  return {
    protectionStartAt: clock.protectionStartAt,
    protectionUntil,
    progressDeadline,
    reminderAt: addCalendarDays(progressDeadline, -settings.warningDays, timeZone),
    graceEndsAt: addCalendarDays(progressDeadline, settings.graceDays, timeZone),
  }
}

function plusSeconds(at: Date, seconds: number): Date {
  return new Date(at.getTime() + seconds * 1000)
}

/** Whole seconds from `from` to `to` (never negative): what a pause adds. */
export function secondsBetween(from: Date, to: Date): number {
  return Math.max(0, Math.floor((to.getTime() - from.getTime()) / 1000))
}

/**
 * A clock resumed at `at`: the pause counts fully towards `protectionUntil` and, for the part after
 * the progress anchor, towards `progressDeadline` (a pause before the newest progress has already
 * been made up by that progress).
 */
export function resumedClock(clock: ProtectionClock, at: Date): ProtectionClock & { pauseSeconds: number } {
  if (clock.clockStoppedAt === null) return { ...clock, pauseSeconds: 0 }
  const pauseSeconds = secondsBetween(clock.clockStoppedAt, at)
  const anchor = progressAnchor(clock)
  const afterAnchor = secondsBetween(clock.clockStoppedAt.getTime() > anchor.getTime() ? clock.clockStoppedAt : anchor, at)
  return {
    ...clock,
    pausedSeconds: clock.pausedSeconds + pauseSeconds,
    progressPausedSeconds: clock.progressPausedSeconds + afterAnchor,
    clockStoppedAt: null,
    pauseSeconds,
  }
}

/**
 * A progress activity that happened at `at`. The anchor never moves backwards (an activity
 * back-dated before the newest progress changes nothing); when it moves, pauses before it stop
 * counting for the deadline.
 */
export function clockAfterProgress(clock: ProtectionClock, at: Date): ProtectionClock {
  if (at.getTime() <= progressAnchor(clock).getTime()) return clock
  return { ...clock, lastProgressAt: at, progressPausedSeconds: 0 }
}

/** The statuses in which protection runs; QUALIFIED and later have earned the claim, EXPIRED/DELETED lost it. */
export const PROTECTED_STATUSES: readonly LeadStatus[] = ['REGISTERED', 'ACTIVE', 'REMINDER', 'GRACE_PERIOD']

export function isProtected(status: LeadStatus): boolean {
  return PROTECTED_STATUSES.includes(status)
}

/** The three timed transitions, one queue each. */
export const PROTECTION_KINDS = ['REMINDER', 'GRACE_PERIOD', 'EXPIRED'] as const
export type ProtectionKind = typeof PROTECTION_KINDS[number]

export type ExpiryCause = 'GRACE_PERIOD_ENDED' | 'PROTECTION_ENDED'

export interface ProtectionTransition {
  kind: ProtectionKind
  from: LeadStatus
  /** The status the lead moves to (= kind). */
  to: ProtectionKind
  /** When it was due. */
  dueAt: Date
  cause: ExpiryCause | 'PROGRESS_DEADLINE_NEAR' | 'PROGRESS_DEADLINE_PASSED'
}

const REMINDABLE: readonly LeadStatus[] = ['REGISTERED', 'ACTIVE']

/** The transitions still ahead of a lead in `status`, earliest first (due or not). */
function pendingTransitions(status: LeadStatus, dates: ProtectionDates): ProtectionTransition[] {
  const expiry = dates.protectionUntil.getTime() < dates.graceEndsAt.getTime()
    ? { dueAt: dates.protectionUntil, cause: 'PROTECTION_ENDED' as const }
    : { dueAt: dates.graceEndsAt, cause: 'GRACE_PERIOD_ENDED' as const }
  const steps: ProtectionTransition[] = []
  if (REMINDABLE.includes(status)) steps.push({ kind: 'REMINDER', from: status, to: 'REMINDER', dueAt: dates.reminderAt, cause: 'PROGRESS_DEADLINE_NEAR' })
  if (status !== 'GRACE_PERIOD') steps.push({ kind: 'GRACE_PERIOD', from: REMINDABLE.includes(status) ? 'REMINDER' : status, to: 'GRACE_PERIOD', dueAt: dates.progressDeadline, cause: 'PROGRESS_DEADLINE_PASSED' })
  steps.push({ kind: 'EXPIRED', from: 'GRACE_PERIOD', to: 'EXPIRED', dueAt: expiry.dueAt, cause: expiry.cause })
  // An expiry at protectionUntil can come before the reminder or the grace period: it ends all.
  const expiryAt = expiry.dueAt.getTime()
  return steps.filter((step) => step.kind === 'EXPIRED' || step.dueAt.getTime() < expiryAt)
}

/**
 * The one transition due for a lead at `at`, or null. Only one step at a time, along §3's allowed
 * changes: a lead found long overdue goes REMINDER, then GRACE_PERIOD, then EXPIRED, each its own
 * step (the caller repeats until null), except that expiry ends everything at once — every
 * protected status may go to EXPIRED directly. A stopped clock or an unprotected status: null.
 */
export function dueTransition(lead: { status: LeadStatus; clockStoppedAt: Date | null }, dates: ProtectionDates, at: Date): ProtectionTransition | null {
  if (!isProtected(lead.status) || lead.clockStoppedAt !== null) return null
  const due = pendingTransitions(lead.status, dates).filter((step) => step.dueAt.getTime() <= at.getTime())
  if (due.length === 0) return null
  const expiry = due.find((step) => step.kind === 'EXPIRED')
  return { ...(expiry ?? due[0]!), from: lead.status }
}

/** The next transition to schedule a job for (due or not), or null when nothing is ahead. */
export function nextTransition(lead: { status: LeadStatus; clockStoppedAt: Date | null }, dates: ProtectionDates): ProtectionTransition | null {
  if (!isProtected(lead.status) || lead.clockStoppedAt !== null) return null
  const next = pendingTransitions(lead.status, dates)[0]
  return next ? { ...next, from: lead.status } : null
}

/** The status a lead should have at `at`, applying every due step (what a sweep converges to). */
export function statusAt(lead: { status: LeadStatus; clockStoppedAt: Date | null }, dates: ProtectionDates, at: Date): LeadStatus {
  let status = lead.status
  for (let step = dueTransition({ ...lead, status }, dates, at); step; step = dueTransition({ ...lead, status }, dates, at)) status = step.to
  return status
}

// ---- stop-the-clock -------------------------------------------------------------------------------

/** A clock-stop request's lifecycle: SALES asks (REQUESTED), MANAGER/ADMIN stop or approve (STOPPED). */
export const CLOCK_STOP_STATUSES = ['REQUESTED', 'STOPPED'] as const
export type ClockStopStatus = typeof CLOCK_STOP_STATUSES[number]

export const STOP_REASON_LENGTH = { min: 10, max: 500 } as const
export const BACKDATING_REASON_LENGTH = { min: 10, max: 250 } as const

/** "paused: 90 minutes" — the summary part of CLOCK_RESUMED (§10). */
export function pausedSummary(pauseSeconds: number): string {
  const minutes = Math.round(pauseSeconds / 60)
  return `paused: ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`
}
