// What a T+3 / T+7 follow-up e-mail says (§6), as plain data for the templates: the offers come
// from the follow-up rules, the wording from the territory's templates in the database, the money
// format from the territory's locale and currency.
import { STARTER_BOX, bulkOffer, businessTypeExtra, seasonalExtra, type FollowUpKind } from './follow-up-rules.ts'
import type { BusinessType } from './lead-rules.ts'

export type FollowUpTemplateKey = 'SAMPLE_REQUEST' | 'FOLLOW_UP'

/** T+3 offers samples ("sample request" mail), T+7 a bulk order ("follow-up" mail). */
export const FOLLOW_UP_TEMPLATE_KEYS: Readonly<Record<FollowUpKind, FollowUpTemplateKey>> = { T3: 'SAMPLE_REQUEST', T7: 'FOLLOW_UP' }

export interface FollowUpMailInput {
  kind: FollowUpKind
  lead: { companyName: string; contactName: string | null; businessType: BusinessType | null }
  /** From the `territories` row of the lead's territory. */
  territory: { currency: string; locale: string; vatRate: string; timeZone: string }
  /** When the mail is written: decides the season. */
  at: Date
  unsubscribeUrl: string
}

export type FollowUpOffer =
  | { kind: 'T3'; starterBox: string; businessExtra: { key: string; label: string }; seasonalExtra: { key: string; label: string } | null }
  | { kind: 'T7'; discountPercent: number; minimumOrder: number; currency: string }

export interface FollowUpMailContent {
  templateKey: FollowUpTemplateKey
  /** Every variable the templates may use; both kinds get all of them, so an edited template cannot break on a missing one. */
  variables: Record<string, string | null>
  /** What was offered, for the activity's metadata. */
  offer: FollowUpOffer
}

/** An amount in the territory's currency and locale: "CHF 1'000", "500 €"; cents only when there are any. */
export function formatMoney(amount: number, currency: string, locale: string): string {
  const fractionDigits = Number.isInteger(amount) ? 0 : 2
  return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits }).format(amount)
}

/** A VAT rate as the locale writes it: "19" (de-DE), "8.1" (de-CH). */
export function formatRate(rate: string, locale: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(Number(rate))
}

export function followUpMailContent(input: FollowUpMailInput): FollowUpMailContent {
  const { lead, territory } = input
  const businessExtra = businessTypeExtra(lead.businessType)
  const season = seasonalExtra(input.at, territory.timeZone)
  const bulk = bulkOffer(lead.businessType)
  const variables: Record<string, string | null> = {
    companyName: lead.companyName,
    contactName: lead.contactName,
    starterBox: STARTER_BOX,
    businessExtra: businessExtra.label,
    seasonalExtra: season?.label ?? null,
    discountPercent: String(bulk.discountPercent),
    minimumOrder: formatMoney(bulk.minimumOrder, territory.currency, territory.locale),
    vatRate: formatRate(territory.vatRate, territory.locale),
    unsubscribeUrl: input.unsubscribeUrl,
  }
  const offer: FollowUpOffer =
    input.kind === 'T3'
      ? { kind: 'T3', starterBox: STARTER_BOX, businessExtra, seasonalExtra: season }
      : { kind: 'T7', discountPercent: bulk.discountPercent, minimumOrder: bulk.minimumOrder, currency: territory.currency }
  return { templateKey: FOLLOW_UP_TEMPLATE_KEYS[input.kind], variables, offer }
}
