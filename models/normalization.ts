// §5 data quality: the normalized forms that deduplication and search compare. The functions are
// deterministic for a given NORMALIZATION_VERSION and options; change any output and the version
// must go up, so the backfill recomputes the stored columns.
import { isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max'
import { matchKeyColumns, type MatchKeyColumns } from './matching.ts'

/**
 * The version of the algorithms below (with every option off). Stays below STRIP_PLUS_TAG_VERSION_FLAG.
 * 2: the §11 match keys (match_name, match_email_domain, match_postal_code, match_city) joined the columns.
 */
export const NORMALIZATION_VERSION = 2

/** Set in a stored version when EMAIL_STRIP_PLUS_TAG was on: the option changes e-mail output. */
export const STRIP_PLUS_TAG_VERSION_FLAG = 1 << 16

export type EmailNormalizationOptions = {
  /** EMAIL_STRIP_PLUS_TAG: drop `+tag`; for Gmail also the dots, and googlemail.com → gmail.com. */
  stripPlusTag?: boolean
}

/**
 * The `normalization_version` a row normalized with these options carries: the algorithm version,
 * plus a flag bit per output-changing option. A row whose version differs from this (older
 * algorithm, or the option switched either way) is stale, and the backfill recomputes it.
 */
export function normalizationVersion(options: EmailNormalizationOptions = {}): number {
  return NORMALIZATION_VERSION | (options.stripPlusTag ? STRIP_PLUS_TAG_VERSION_FLAG : 0)
}

const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com'])

/** `lower(trim(email))`, blank → null; no validation here (the request schema does that). */
export function normalizeEmail(email: string | null | undefined, options: EmailNormalizationOptions = {}): string | null {
  if (email == null) return null
  const lowered = email.trim().toLowerCase()
  if (lowered === '') return null
  if (!options.stripPlusTag) return lowered
  const at = lowered.lastIndexOf('@')
  if (at < 0) return lowered
  let local = lowered.slice(0, at)
  let domain = lowered.slice(at + 1)
  const plus = local.indexOf('+')
  if (plus >= 0) local = local.slice(0, plus)
  if (GMAIL_DOMAINS.has(domain)) {
    local = local.replaceAll('.', '')
    domain = 'gmail.com'
  }
  // "+tag@x.com" or ".@gmail.com" would lose the whole mailbox name: keep what was there instead.
  if (local === '') return lowered
  return `${local}@${domain}`
}

// Letters NFKD does not decompose (they are not base letter + mark), mapped as §5 lists them.
// Applied after lower-casing, so Æ, Œ, Ø, Ł and ẞ are covered too.
const LETTER_FOLDS: Readonly<Record<string, string>> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l' }

// The §5 legal forms as they look after the steps before (lower case, marks removed, single
// spaces). Written as patterns so the usual spellings match too: "Ltd." as well as "Ltd",
// "e. V." as well as "e.V.", "S.à r.l." as well as "Sàrl", "haftungsbeschraenkt" as well as
// "haftungsbeschränkt". "UG (haftungsbeschränkt)" and "GmbH & Co. KG" are each one legal form,
// so they are dropped as a whole.
const LEGAL_FORM_PATTERNS = [
  String.raw`(?:gmbh|ag|se|ug(?: \(haftungsbeschr(?:a|ae)nkt\))?) ?(?:&|\+|und|u\.) ?co\.? ?kg`,
  String.raw`ug \(haftungsbeschr(?:a|ae)nkt\)`,
  String.raw`\(haftungsbeschr(?:a|ae)nkt\)`,
  String.raw`g?gmbh`,
  String.raw`ag`,
  String.raw`ug`,
  String.raw`ohg`,
  String.raw`kg`,
  String.raw`e\. ?k\.?`,
  String.raw`e\. ?v\.?`,
  String.raw`se`,
  String.raw`s\.? ?a\.? ?r\.? ?l\.?`,
  String.raw`s\.? ?a\.?`,
  String.raw`ltd\.?`,
]
// The lazy name part makes the longest legal form at the end win ("gmbh & co. kg" over "kg").
// The legal form must follow a space or comma after at least one other character, so "Flag" keeps
// its "ag". A name that is nothing but a legal form ("GmbH", "GmbH & Co. KG") is kept whole rather
// than becoming empty or half-stripped: an empty key would match every other such name.
const LEGAL_FORM = LEGAL_FORM_PATTERNS.join('|')
const TRAILING_LEGAL_FORM = new RegExp(String.raw`^(.+?)[\s,]+(?:${LEGAL_FORM})$`, 'u')
const ONLY_LEGAL_FORM = new RegExp(`^(?:${LEGAL_FORM})$`, 'u')

/**
 * The company name as deduplication compares it: trim, NFKD, combining marks removed, ß/æ/œ/ø/ł
 * folded, lower case, whitespace collapsed, then at most one trailing legal form dropped.
 * Blank → null.
 */
export function normalizeCompanyName(name: string | null | undefined): string | null {
  if (name == null) return null
  const folded = name
    .trim()
    .normalize('NFKD')
    .toLowerCase()
    .replace(/\p{M}+/gu, '')
    .replace(/[ßæœøł]/gu, (letter) => LETTER_FOLDS[letter] ?? letter)
    .replace(/\s+/gu, ' ')
    .trim()
  if (folded === '') return null
  if (ONLY_LEGAL_FORM.test(folded)) return folded
  const match = TRAILING_LEGAL_FORM.exec(folded)
  return match ? match[1] : folded
}

export type PhoneNormalization = { e164: string | null; warning?: string }

/**
 * E.164 form of `phone`, reading national numbers as numbers of the lead's `countryCode`.
 * Blank → null without a warning; anything libphonenumber's full metadata does not accept as a
 * valid number → null with a warning (the caller keeps the raw `phone`).
 */
export function normalizePhone(phone: string | null | undefined, countryCode: string): PhoneNormalization {
  if (phone == null || phone.trim() === '') return { e164: null }
  const country = countryCode.trim().toUpperCase()
  // An unknown country still lets "+41 …" and similar international numbers through.
  const defaultCountry = isSupportedCountry(country) ? country : undefined
  const parsed = parsePhoneNumberFromString(phone.trim(), defaultCountry)
  if (parsed?.isValid()) return { e164: parsed.number }
  return { e164: null, warning: `phone could not be parsed as a valid number for ${country || 'an unknown country'}` }
}

export type NormalizedColumns = MatchKeyColumns & {
  emailNormalized: string | null
  nameNormalized: string | null
  phoneE164: string | null
  normalizationVersion: number
}

/** The lead fields the derived columns are computed from: a write that changes one of them recomputes. */
export const NORMALIZED_INPUTS = ['email', 'companyName', 'phone', 'countryCode', 'postalCode', 'city'] as const

/**
 * Everything §5 (and §11's match keys) derive from a lead, for the service (on each write) and the
 * backfill (for old rows) alike, so both compute exactly the same thing. Warnings go back to the caller.
 */
export function normalizeLead(
  lead: { email: string | null; companyName: string; phone: string | null; countryCode: string; postalCode?: string | null; city?: string | null },
  options: EmailNormalizationOptions = {},
): { columns: NormalizedColumns; warnings: string[] } {
  const phone = normalizePhone(lead.phone, lead.countryCode)
  const emailNormalized = normalizeEmail(lead.email, options)
  return {
    columns: {
      emailNormalized,
      nameNormalized: normalizeCompanyName(lead.companyName),
      phoneE164: phone.e164,
      ...matchKeyColumns({ companyName: lead.companyName, emailNormalized, postalCode: lead.postalCode ?? null, city: lead.city ?? null }),
      normalizationVersion: normalizationVersion(options),
    },
    warnings: phone.warning ? [phone.warning] : [],
  }
}
