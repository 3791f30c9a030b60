// What the §10 protection mails say, as plain data for the templates `lead_progress_warning` (to the
// owner at REMINDER) and `lead_protection_expired` (to the territory's managers at EXPIRED). They go
// to the company's own staff: dates in the territory's locale and zone, a link to the lead, and no
// customer footer or unsubscribe link (those belong to mails to customers, §6/§13).
import type { ExpiryCause, ProtectionDates, ProtectionSettings } from './protection-rules.ts'

export const PROTECTION_TEMPLATE_KEYS = { REMINDER: 'lead_progress_warning', EXPIRED: 'lead_protection_expired' } as const
export type ProtectionTemplateKey = typeof PROTECTION_TEMPLATE_KEYS[keyof typeof PROTECTION_TEMPLATE_KEYS]

/** Internal mails carry no footer: renderMail appends this empty one. */
export const NO_FOOTER = { textBody: '', htmlBody: '' } as const

const CAUSE_TEXT: Readonly<Record<ExpiryCause, Record<'de-DE' | 'de-CH', string>>> = {
  GRACE_PERIOD_ENDED: { 'de-DE': 'kein Fortschritt bis zum Ende der Nachfrist', 'de-CH': 'kein Fortschritt bis zum Ende der Nachfrist' },
  PROTECTION_ENDED: { 'de-DE': 'Schutzdauer abgelaufen, ohne dass der Lead qualifiziert wurde', 'de-CH': 'Schutzdauer abgelaufen, ohne dass der Lead qualifiziert wurde' },
}

/** A date and time as staff in the territory read it: "Sonntag, 2. März 2025 um 10:00". */
export function formatLocalDateTime(at: Date, locale: string, timeZone: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'short', timeZone }).format(at)
}

export interface ProtectionMailInput {
  lead: { id: string; companyName: string }
  /** The owner the claim belonged to (null: none). */
  ownerUserId: string | null
  dates: ProtectionDates
  settings: ProtectionSettings
  territory: { locale: string; timeZone: string }
  publicBaseUrl: string
  cause: ExpiryCause | null
}

/** Every variable both protection templates may use, so an edited template cannot break on a missing one. */
export function protectionMailVariables(input: ProtectionMailInput): Record<string, string> {
  const { locale, timeZone } = input.territory
  const format = (at: Date) => formatLocalDateTime(at, locale, timeZone)
  const causeLocale = locale === 'de-CH' ? 'de-CH' : 'de-DE'
  return {
    companyName: input.lead.companyName,
    leadId: input.lead.id,
    leadUrl: `${input.publicBaseUrl}/api/leads/${input.lead.id}`,
    ownerUserId: input.ownerUserId ?? '–',
    progressDeadline: format(input.dates.progressDeadline),
    graceEndsAt: format(input.dates.graceEndsAt),
    protectionUntil: format(input.dates.protectionUntil),
    warningDays: String(input.settings.warningDays),
    graceDays: String(input.settings.graceDays),
    cause: input.cause ? CAUSE_TEXT[input.cause][causeLocale] : '',
  }
}
