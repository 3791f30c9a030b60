// §11 matching: how alike two leads are, as pure functions. The candidate search (SQL, indexes)
// lives in models/match-candidates.ts; it only finds leads worth scoring, the score is decided here.
//
// Every comparison works on keys folded the same way on both sides: lower case, accents removed,
// ß → ss, and the German transliterations ae/oe/ue → a/o/u, so "Müller", "Mueller" and "MUELLER"
// all become "muller". Legal forms and filler words are dropped anywhere in a company name, the
// remaining words are compared as sets (word order does not matter) with a small edit distance per
// word (typos). Words that only say what kind of business it is ("Hotel", "Restaurant", "Café")
// count little: "Hotel zur Post" and "Gasthof zur Post" share the distinctive "post", and whether
// they are one lead is decided by where they are.
import { distance } from 'fastest-levenshtein'

export const MATCH_REASONS = ['EMAIL', 'PHONE', 'COMPANY_NAME', 'ADDRESS', 'EMAIL_DOMAIN', 'CONTACT_NAME'] as const
export type MatchReason = typeof MATCH_REASONS[number]

/** Default review threshold (§11); a tenant may set its own (matching_settings). */
export const DEFAULT_REVIEW_THRESHOLD = 60
/** `POST /api/leads/match` reports candidates from this score on, at most MAX_MATCH_CANDIDATES. */
export const MATCH_REPORT_THRESHOLD = 40
export const MAX_MATCH_CANDIDATES = 10

/**
 * The weights, tuned on the labelled set of scripts/matching-dataset.ts (test/matching/quality.test.ts
 * prints precision and recall). Positive signals add up; the two location conflicts subtract,
 * because a matching name in another city or at another street of the same city is what a chain
 * branch or a common name looks like. The sum is clamped to 0–100.
 */
export const MATCH_WEIGHTS = {
  phone: 40,
  /** At a name similarity of 1; scaled down to 0 at NAME_SIMILARITY_FLOOR. */
  companyName: 45,
  /** Same postal code or city, and a similar street with a compatible house number. */
  address: 25,
  /** Same postal code or city only (one side has no street); or the same street and number where the towns cannot be compared. */
  sameTown: 15,
  emailDomain: 25,
  contactName: 15,
  /** Both have streets in the same town and they differ, or one city with two postal codes. */
  otherStreet: -15,
  /** Both have a town, and neither postal code nor city agrees. */
  otherTown: -40,
  /** Both have a company e-mail domain, and they differ. */
  otherEmailDomain: -10,
  /** Both name a business type (not SONSTIGES), and they differ. */
  otherBusinessType: -10,
} as const

const NAME_SIMILARITY_FLOOR = 0.5
const NAME_SIMILARITY_FULL = 0.95
/** A name contributes the COMPANY_NAME reason from this many points on. */
const NAME_REASON_POINTS = 15

// ---- folding -------------------------------------------------------------------------------

const LETTER_FOLDS: Readonly<Record<string, string>> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ı: 'i' }

/** Lower case, accents removed, ß/æ/œ/ø/ł folded, ae/oe/ue → a/o/u; punctuation kept. */
function foldLetters(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/\p{M}+/gu, '')
    .replace(/[ßæœøłđı]/gu, (letter) => LETTER_FOLDS[letter] ?? letter)
    .replace(/([aou])e/gu, '$1')
}

/** foldLetters, then everything but letters and digits becomes a space; single spaces, trimmed. */
export function foldText(text: string): string {
  return foldLetters(text).replace(/[^\p{L}\p{N}]+/gu, ' ').trim()
}

// ---- company names ---------------------------------------------------------------------------

// Legal forms written with dots or spaces inside, removed before punctuation turns into spaces.
const DOTTED_LEGAL_FORMS = [
  /\bgmbh\s*(?:&|\+|und|u\.)\s*co\.?\s*(?:kgaa|kg|ohg)\b/gu,
  /\b(?:ag|se|ug)\s*(?:&|\+|und|u\.)\s*co\.?\s*(?:kgaa|kg|ohg)\b/gu,
  /\(?haftungsbeschr(?:a|ae|ä)nkt\)?/gu,
  /\be\.\s?[vk]\.?(?=\s|$)/gu,
  /\bs\.\s?[aà]\.?\s?r\.?\s?l\.?(?=\s|$)/gu,
  /\bs\.\s?a\.?(?=\s|$)/gu,
  /\bg\.?\s?m\.?\s?b\.?\s?h\.?(?=\s|$)/gu,
  /\bges\.\s?m\.\s?b\.\s?h\.?/gu,
]

/** Words dropped from a name wherever they stand: legal forms and filler words. */
const DROPPED_NAME_WORDS = new Set([
  // legal forms (after folding, as single words)
  'gmbh', 'ggmbh', 'mbh', 'ag', 'kg', 'kgaa', 'ohg', 'ug', 'ev', 'ek', 'ekfr', 'co', 'se', 'sa', 'sarl', 'sagl', 'ltd', 'llc', 'inc',
  'gbr', 'inh', 'inhaber', 'limited', 'gesmbh', 'corp', 'plc', 'bv', 'nv', 'kft', 'srl',
  // articles, prepositions, conjunctions
  'der', 'die', 'das', 'den', 'dem', 'des', 'zum', 'zur', 'zu', 'am', 'im', 'an', 'in', 'und', 'u', 'the', 'and', 'of', 'la', 'le',
  'les', 'il', 'da', 'di', 'del', 'de', 'du', 'bei', 'beim', 'von', 'vom', 'fur', 'auf', 'aus', 'et', 'e', 'a',
])

/**
 * Words that say what kind of business it is. They take part in the comparison only when a name has
 * nothing else, and two names with different kinds ("Bäckerei Müller", "Metzgerei Müller") are
 * less alike than their distinctive words suggest. Folded forms.
 */
const GENERIC_NAME_WORDS = new Set([
  'restaurant', 'restaurants', 'ristorante', 'trattoria', 'osteria', 'pizzeria', 'pizza', 'bistro', 'cafe', 'kaffee', 'kaffeehaus',
  'cafeteria', 'bar', 'pub', 'kneipe', 'lounge', 'grill', 'steakhaus', 'steakhouse', 'burger', 'imbiss', 'snack', 'kebab', 'doner',
  'sushi', 'asia', 'wok', 'gasthaus', 'gasthof', 'gastehaus', 'landgasthof', 'wirtshaus', 'brauhaus', 'brauerei', 'bierhaus',
  'biergarten', 'weinstube', 'hotel', 'hotels', 'motel', 'pension',
  'hostel', 'herberge', 'jugendherberge', 'resort', 'spa', 'wellness', 'garni', 'kantine', 'mensa', 'betriebsrestaurant',
  'catering', 'partyservice', 'kuche', 'grosskuche', 'backerei', 'konditorei',
  'metzgerei', 'fleischerei', 'feinkost', 'delikatessen', 'markt', 'supermarkt', 'getranke', 'grosshandel', 'handel', 'grosshandlung',
  'lebensmittel', 'food', 'foods', 'gastro', 'gastronomie', 'hospitality', 'holding', 'betriebe', 'betrieb',
  'klinik', 'kliniken', 'klinikum', 'krankenhaus', 'spital', 'pflegeheim', 'seniorenheim', 'seniorenresidenz', 'altenheim',
  'schule', 'grundschule', 'gymnasium', 'kita', 'kindergarten', 'universitat', 'hochschule', 'internat',
  'vinothek', 'eiscafe', 'eisdiele', 'creperie', 'taverne', 'taverna', 'cantina',
])

export interface NameTokens {
  /** Distinctive words, sorted. */
  distinctive: string[]
  /** Business-kind words, sorted. */
  generic: string[]
}

export function companyNameTokens(name: string | null | undefined): NameTokens {
  if (name == null) return { distinctive: [], generic: [] }
  let text = name.normalize('NFKD').toLowerCase().replace(/\p{M}+/gu, '')
  for (const pattern of DOTTED_LEGAL_FORMS) text = text.replace(pattern, ' ')
  // "Müller's" and "Mullers" are one word; an apostrophe inside a word is no separator.
  text = text.replace(/['’`´]/gu, '')
  const words = foldText(text).split(' ').filter((w) => w !== '' && !DROPPED_NAME_WORDS.has(w))
  const generics = words.map(genericWord)
  const distinctive = words.filter((_, i) => generics[i] === null).sort()
  const generic = [...new Set(generics.filter((w) => w !== null))].sort()
  return { distinctive, generic }
}

/**
 * The business word `word` is, also with a typo in a long one ("metzgrei", "restuarant"), else
 * null. Short words are taken as written: "schulze" is no misspelt "schule", "piazza" no "pizza".
 */
function genericWord(word: string): string | null {
  if (GENERIC_NAME_WORDS.has(word)) return word
  if (word.length < 8) return null
  for (const generic of LONG_GENERIC_WORDS) {
    if (Math.abs(generic.length - word.length) > 1) continue
    // One typo leaves the first or the last letter alone: a cheap test before the edit distance.
    if (generic[0] !== word[0] && generic.at(-1) !== word.at(-1)) continue
    if (distance(word, generic) === 1 || swapped(word, generic)) return generic
  }
  return null
}
const LONG_GENERIC_WORDS = [...GENERIC_NAME_WORDS].filter((w) => w.length >= 7)

/** `a` is `b` with two neighbouring letters swapped ("setrn", "stern"). */
function swapped(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return i < a.length - 1 && a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2)
}

/**
 * The stored name key (`match_name`) the trigram index searches: the distinctive words, sorted, or
 * the business words when there is nothing else. Null when nothing is left.
 */
export function companyNameKey(name: string | null | undefined): string | null {
  const { distinctive, generic } = companyNameTokens(name)
  const words = distinctive.length > 0 ? distinctive : generic
  return words.length > 0 ? words.join(' ').slice(0, 255) : null
}

/** 1 for equal words, less for a typo or two, 0 otherwise. */
function wordSimilarity(a: string, b: string): number {
  if (a === b) return 1
  const shorter = Math.min(a.length, b.length)
  if (shorter < 4) return 0
  const edits = distance(a, b)
  if (edits === 1 || swapped(a, b)) return 0.85
  if (edits === 2 && shorter >= 7) return 0.7
  // "muller" and "mullers", "adler" and "adlers": one is the other plus a letter or two at the end.
  return 0
}

/** Average over `from` of each word's best match in `to`, weighted by word length. */
function bestMatchAverage(from: readonly string[], to: readonly string[]): number {
  let total = 0
  let weight = 0
  for (const word of from) {
    let best = 0
    for (const other of to) best = Math.max(best, wordSimilarity(word, other))
    total += best * word.length
    weight += word.length
  }
  return weight === 0 ? 0 : total / weight
}

/** Similarity of two word sets 0–1: symmetric part and "one name contains the other" part. */
function wordSetSimilarity(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0
  const ab = bestMatchAverage(a, b)
  const ba = bestMatchAverage(b, a)
  const symmetric = (ab + ba) / 2
  const containment = a.length <= b.length ? ab : ba
  // The words run together or split differently: "Cafe Mueller" / "Cafemüller".
  const joinedA = a.join('')
  const joinedB = b.join('')
  const joined = 1 - distance(joinedA, joinedB) / Math.max(joinedA.length, joinedB.length)
  return Math.max((symmetric + containment) / 2, joinedA.length >= 6 ? joined : 0)
}

/** How alike two company names are, 0–1. */
export function companyNameSimilarity(a: NameTokens, b: NameTokens): number {
  if (a.distinctive.length > 0 && b.distinctive.length > 0) {
    const similarity = wordSetSimilarity(a.distinctive, b.distinctive)
    // Different kinds of business with the same distinctive word: "Bäckerei Müller", "Metzgerei Müller".
    const kindsConflict = a.generic.length > 0 && b.generic.length > 0 && !a.generic.some((w) => b.generic.includes(w))
    return kindsConflict ? similarity * 0.6 : similarity
  }
  // Names made of business words only ("Kantine", "Hotel Restaurant") say little.
  const wordsA = a.distinctive.length > 0 ? a.distinctive : a.generic
  const wordsB = b.distinctive.length > 0 ? b.distinctive : b.generic
  return wordSetSimilarity(wordsA, wordsB) * 0.6
}

// ---- address, contact, e-mail ----------------------------------------------------------------------

export interface StreetKey {
  /** The street name folded, without spaces, with Str./Strasse/Straße → "strasse", Pl. → "platz". */
  name: string
  /** The house number with an optional letter ("12a"), or null. */
  number: string | null
}

export function streetKey(street: string | null | undefined): StreetKey | null {
  if (street == null) return null
  const folded = foldText(street)
  if (folded === '') return null
  // The last number (with an optional letter, or a range "12-14" whose first number counts).
  const match = /^(.*?)\s*(\d+)\s?([a-z])?(?:\s+\d+\s?[a-z]?)?$/u.exec(folded)
  const namePart = match ? match[1]! : folded
  const number = match ? `${match[2]!.replace(/^0+/u, '')}${match[3] ?? ''}` : null
  const name = namePart
    .replace(/(?:strase|str)\b/gu, 'strasse')
    .replace(/pl\b/gu, 'platz')
    .replace(/\s+/gu, '')
  if (name === '') return null
  return { name, number }
}

/** One street and house number, allowing for a typo or two in the name. */
function streetsAlike(a: StreetKey, b: StreetKey): boolean {
  const numbersFit = a.number === null || b.number === null || a.number.replace(/[a-z]$/u, '') === b.number.replace(/[a-z]$/u, '')
  if (!numbersFit) return false
  if (a.name === b.name) return true
  const shorter = Math.min(a.name.length, b.name.length)
  if (shorter < 6) return false
  // With the same house number on both sides a misspelt street is still the same address.
  const allowed = a.number !== null && b.number !== null ? Math.max(2, Math.floor(shorter * 0.25)) : shorter >= 10 ? 2 : 1
  return distance(a.name, b.name) <= allowed
}

/** Postal code without spaces and a country prefix ("D-10115", "CH-8001"), upper case; blank → null. */
export function postalCodeKey(postalCode: string | null | undefined): string | null {
  if (postalCode == null) return null
  const key = postalCode.toUpperCase().replace(/\s+/gu, '').replace(/^(?:D|DE|CH|A|AT)-/u, '')
  return key === '' ? null : key.slice(0, 20)
}

// The other languages' names of cities in DE, CH and AT that forms and imports use (folded).
const CITY_ALIASES: Readonly<Record<string, string>> = {
  munich: 'munchen', cologne: 'koln', nuremberg: 'nurnberg', hanover: 'hannover', brunswick: 'braunschweig',
  lucerne: 'luzern', lucerna: 'luzern', geneva: 'geneve', genf: 'geneve', ginevra: 'geneve', zuri: 'zurich', zurigo: 'zurich',
  berne: 'bern', berna: 'bern', bale: 'basel', basilea: 'basel', sanktgallen: 'stgallen', vienna: 'wien', vienne: 'wien',
  biel: 'bielbienne', bienne: 'bielbienne', freiburgimuchtland: 'fribourg', neuenburg: 'neuchatel', sitten: 'sion',
}

/** City folded, without spaces and qualifiers ("Frankfurt am Main" → "frankfurt"); blank → null. */
export function cityKey(city: string | null | undefined): string | null {
  if (city == null) return null
  const folded = foldText(city.replace(/\(.*\)/gu, ' ').replace(/\/.*$/u, ' '))
  const main = folded.split(/\s(?:am|an|im|in|ob|a|i|bei|b|an der|in der|vor der|v d)\s/u)[0]!.replace(/\s+/gu, '')
  if (main === '') return null
  return (CITY_ALIASES[main] ?? main).slice(0, 255)
}

const CONTACT_TITLES = new Set(['herr', 'frau', 'hr', 'fr', 'dr', 'prof', 'dipl', 'ing', 'mag', 'med', 'mr', 'mrs', 'ms', 'von', 'van', 'der'])

/** Contact name words folded, titles dropped, sorted ("Dr. Hans Müller" = "Mueller, Hans"); blank → null. */
export function contactNameKey(name: string | null | undefined): string | null {
  if (name == null) return null
  const words = foldText(name).split(' ').filter((w) => w.length > 1 && !CONTACT_TITLES.has(w))
  return words.length > 0 ? words.sort().join(' ') : null
}

// Free-mail providers: a shared domain there says nothing about the company. Suffix patterns cover
// a provider's country domains (yahoo.de, yahoo.co.uk, hotmail.ch, …).
const FREE_MAIL_DOMAINS = new Set([
  'gmail.com', 'googlemail.com', 'gmx.de', 'gmx.net', 'gmx.ch', 'gmx.at', 'gmx.com', 'gmx.eu', 'web.de', 't-online.de', 'outlook.com',
  'outlook.de', 'hotmail.com', 'hotmail.de', 'live.com', 'live.de', 'msn.com', 'icloud.com', 'me.com', 'mac.com', 'bluewin.ch',
  'hispeed.ch', 'sunrise.ch', 'bluemail.ch', 'swissonline.ch', 'aol.com', 'aol.de', 'proton.me', 'protonmail.com', 'protonmail.ch',
  'pm.me', 'freenet.de', 'arcor.de', 'posteo.de', 'posteo.net', 'mailbox.org', 'mail.de', 'email.de', 'online.de', 'vodafone.de',
  '1und1.de', 'kabelmail.de', 'aon.at', 'chello.at', 'a1.net', 'yandex.com', 'yandex.ru', 'mail.ru', 'zoho.com', 'tutanota.com',
  'tutanota.de', 'tuta.io', 'mail.com', 'gmx.li', 'freesurf.ch', 'datacomm.ch', 'green.ch', 'quickline.ch', 'vtxmail.ch', 'netcologne.de',
])
const FREE_MAIL_PATTERNS = [/^yahoo\.[a-z.]+$/u, /^ymail\.com$/u, /^hotmail\.[a-z.]+$/u, /^outlook\.[a-z.]+$/u, /^live\.[a-z.]+$/u, /^gmx\.[a-z.]+$/u]

export function isFreeMailDomain(domain: string): boolean {
  const lower = domain.toLowerCase()
  return FREE_MAIL_DOMAINS.has(lower) || FREE_MAIL_PATTERNS.some((pattern) => pattern.test(lower))
}

/** The company's e-mail domain (`match_email_domain`): null without e-mail or for a free-mail provider. */
export function companyEmailDomain(emailNormalized: string | null | undefined): string | null {
  if (emailNormalized == null) return null
  const at = emailNormalized.lastIndexOf('@')
  if (at < 0) return null
  const domain = emailNormalized.slice(at + 1).toLowerCase().replace(/\.$/u, '')
  if (domain === '' || isFreeMailDomain(domain)) return null
  return domain.slice(0, 255)
}

// ---- the stored keys and the profile ------------------------------------------------------------------

/** The match keys' field names (columns match_name, …). */
export const MATCH_KEY_FIELDS = ['matchName', 'matchEmailDomain', 'matchPostalCode', 'matchCity'] as const

/** What the write path stores for the candidate search (V0012), computed like §5's normalized columns. */
export interface MatchKeyColumns {
  matchName: string | null
  matchEmailDomain: string | null
  matchPostalCode: string | null
  matchCity: string | null
}

export interface MatchFields {
  companyName: string | null
  contactName?: string | null
  emailNormalized?: string | null
  phoneE164?: string | null
  street?: string | null
  postalCode?: string | null
  city?: string | null
  businessType?: string | null
}

export function matchKeyColumns(fields: MatchFields): MatchKeyColumns {
  return {
    matchName: companyNameKey(fields.companyName),
    matchEmailDomain: companyEmailDomain(fields.emailNormalized),
    matchPostalCode: postalCodeKey(fields.postalCode),
    matchCity: cityKey(fields.city),
  }
}

/** Everything the score compares, computed once per lead. */
export interface MatchProfile {
  name: NameTokens
  email: string | null
  emailDomain: string | null
  phone: string | null
  street: StreetKey | null
  postalCode: string | null
  city: string | null
  contact: string | null
  businessType: string | null
}

export function matchProfile(fields: MatchFields): MatchProfile {
  const email = fields.emailNormalized?.toLowerCase() || null
  return {
    name: companyNameTokens(fields.companyName),
    email,
    emailDomain: companyEmailDomain(email),
    phone: fields.phoneE164 || null,
    street: streetKey(fields.street),
    postalCode: postalCodeKey(fields.postalCode),
    city: cityKey(fields.city),
    contact: contactNameKey(fields.contactName),
    businessType: fields.businessType && fields.businessType !== 'SONSTIGES' ? fields.businessType : null,
  }
}

// ---- the score ----------------------------------------------------------------------------------

export interface MatchScore {
  /** 0–100. */
  score: number
  /** The signals that agreed, strongest first. */
  reasons: MatchReason[]
}

/** The name points for a similarity 0–1. */
function namePoints(similarity: number): number {
  const scaled = (similarity - NAME_SIMILARITY_FLOOR) / (NAME_SIMILARITY_FULL - NAME_SIMILARITY_FLOOR)
  return Math.round(MATCH_WEIGHTS.companyName * Math.min(1, Math.max(0, scaled)))
}

/** Where the two are, as one of the location outcomes the weights name. */
function locationPoints(a: MatchProfile, b: MatchProfile): number {
  const samePostalCode = a.postalCode !== null && a.postalCode === b.postalCode
  const bothPostalCodes = a.postalCode !== null && b.postalCode !== null
  const sameCity = a.city !== null && a.city === b.city
  // Two postal codes of one city are two addresses; same postal code with a differently spelled city is one place.
  const sameTown = samePostalCode || (sameCity && !bothPostalCodes)
  const sameCityOtherPostalCode = sameCity && bothPostalCodes && !samePostalCode
  if (sameTown || sameCityOtherPostalCode) {
    if (a.street !== null && b.street !== null) {
      if (streetsAlike(a.street, b.street)) return MATCH_WEIGHTS.address
      return MATCH_WEIGHTS.otherStreet
    }
    // One city, two postal codes: two places in it, as far as anyone can tell.
    return sameCityOtherPostalCode ? MATCH_WEIGHTS.otherStreet : MATCH_WEIGHTS.sameTown
  }
  // The same street and house number, and no postal codes that disagree: one place, whatever the
  // city is called ("HH", "Hamburg") or when one side has no town at all.
  const sameStreet = a.street !== null && b.street !== null && a.street.number !== null && b.street.number !== null && streetsAlike(a.street, b.street)
  if (sameStreet && !bothPostalCodes) return MATCH_WEIGHTS.sameTown
  if (a.city !== null && b.city !== null) return MATCH_WEIGHTS.otherTown
  // Only postal codes to compare: another region (first two digits) is another town; within one, nobody can tell.
  if (bothPostalCodes && a.postalCode!.slice(0, 2) !== b.postalCode!.slice(0, 2)) return MATCH_WEIGHTS.otherTown
  return 0
}

/**
 * The §11 match score of lead `a` against lead `b`. The exact same e-mail is the hard duplicate of
 * §5 and scores 100 with reason EMAIL.
 */
export function scoreMatch(a: MatchProfile, b: MatchProfile): MatchScore {
  if (a.email !== null && a.email === b.email) return { score: 100, reasons: ['EMAIL'] }
  const signals: { reason: MatchReason; points: number }[] = []
  let penalty = 0
  if (a.phone !== null && a.phone === b.phone) signals.push({ reason: 'PHONE', points: MATCH_WEIGHTS.phone })
  const name = namePoints(companyNameSimilarity(a.name, b.name))
  if (name >= NAME_REASON_POINTS) signals.push({ reason: 'COMPANY_NAME', points: name })
  const location = locationPoints(a, b)
  if (location > 0) signals.push({ reason: 'ADDRESS', points: location })
  else penalty += location
  if (a.emailDomain !== null && b.emailDomain !== null) {
    if (a.emailDomain === b.emailDomain) signals.push({ reason: 'EMAIL_DOMAIN', points: MATCH_WEIGHTS.emailDomain })
    else penalty += MATCH_WEIGHTS.otherEmailDomain
  }
  if (a.contact !== null && b.contact !== null && contactsAlike(a.contact, b.contact)) signals.push({ reason: 'CONTACT_NAME', points: MATCH_WEIGHTS.contactName })
  if (a.businessType !== null && b.businessType !== null && a.businessType !== b.businessType) penalty += MATCH_WEIGHTS.otherBusinessType
  const total = signals.reduce((sum, s) => sum + s.points, 0) + penalty
  signals.sort((x, y) => y.points - x.points)
  return { score: Math.min(100, Math.max(0, Math.round(total))), reasons: signals.map((s) => s.reason) }
}

function contactsAlike(a: string, b: string): boolean {
  if (a === b) return true
  return Math.min(a.length, b.length) >= 8 && distance(a, b) <= 1
}

/** The pair's canonical order, for the NOT_DUPLICATE memory (smaller id first). */
export function leadPair(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a]
}
