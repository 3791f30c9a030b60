// The labelled data set that §11's weights are judged on: pairs of lead create bodies, each
// labelled duplicate or not. Seeded (the same seed gives the same set, byte for byte), so a
// precision/recall figure can be reproduced and compared across changes of the weights.
//
// True duplicates are one business entered twice, the way a sales team meets it: from a trade fair
// and from the web form, by two people, months apart. The second entry varies the first the way
// people do — legal form added or dropped, umlauts transliterated (ü/ue, ß/ss) or lost, a typo,
// words in another order, a business word more or less, the phone written another way, the e-mail
// in other case or another person's address at the same company, the street abbreviated
// (Str./Straße/Strasse), the city spelled another way — and leaves out what one form did not ask for.
//
// Non-duplicates are the hard ones: the same generic name in two cities ("Hotel zur Post"),
// branches of one chain (same brand and company domain) in different cities — and now and then in
// one city at different streets —, businesses of one kind in one town and postal code, one family
// name on a bakery and a butcher's, neighbours in one building.
//
//   node scripts/matching-dataset.ts [--seed N] [--duplicates N] [--non-duplicates N] > pairs.json

export interface DatasetLead {
  companyName: string
  contactName?: string
  email?: string
  phone?: string
  street?: string
  postalCode?: string
  city?: string
  countryCode: 'DE' | 'CH' | 'AT'
  businessType?: string
}

export type PairKind =
  | 'duplicate'
  | 'generic-name-other-city'
  | 'chain-branch-other-city'
  | 'chain-branch-same-city'
  | 'same-kind-same-town'
  | 'family-name-other-trade'
  | 'same-building'
  | 'similar-name-same-town'

export interface DatasetPair {
  a: DatasetLead
  b: DatasetLead
  duplicate: boolean
  kind: PairKind
}

export interface DatasetOptions {
  seed?: number
  duplicates?: number
  nonDuplicates?: number
}

/** mulberry32: small, fast, good enough for test data, and the same in every Node version. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Town {
  city: string
  /** Other ways people write it. */
  spellings: string[]
  postalPrefix: string
  postalDigits: number
  country: 'DE' | 'CH' | 'AT'
  areaCode: string
}

const TOWNS: Town[] = [
  { city: 'Berlin', spellings: ['BERLIN'], postalPrefix: '10', postalDigits: 5, country: 'DE', areaCode: '30' },
  { city: 'Hamburg', spellings: ['HH'], postalPrefix: '20', postalDigits: 5, country: 'DE', areaCode: '40' },
  { city: 'München', spellings: ['Muenchen', 'Munchen'], postalPrefix: '80', postalDigits: 5, country: 'DE', areaCode: '89' },
  { city: 'Köln', spellings: ['Koeln', 'Koln'], postalPrefix: '50', postalDigits: 5, country: 'DE', areaCode: '221' },
  { city: 'Frankfurt am Main', spellings: ['Frankfurt', 'Frankfurt a. M.', 'Frankfurt/Main'], postalPrefix: '60', postalDigits: 5, country: 'DE', areaCode: '69' },
  { city: 'Stuttgart', spellings: ['stuttgart'], postalPrefix: '70', postalDigits: 5, country: 'DE', areaCode: '711' },
  { city: 'Düsseldorf', spellings: ['Duesseldorf'], postalPrefix: '40', postalDigits: 5, country: 'DE', areaCode: '211' },
  { city: 'Leipzig', spellings: [], postalPrefix: '04', postalDigits: 5, country: 'DE', areaCode: '341' },
  { city: 'Nürnberg', spellings: ['Nuernberg'], postalPrefix: '90', postalDigits: 5, country: 'DE', areaCode: '911' },
  { city: 'Freiburg im Breisgau', spellings: ['Freiburg', 'Freiburg i. Br.'], postalPrefix: '79', postalDigits: 5, country: 'DE', areaCode: '761' },
  { city: 'Garmisch-Partenkirchen', spellings: ['Garmisch Partenkirchen'], postalPrefix: '824', postalDigits: 5, country: 'DE', areaCode: '8821' },
  { city: 'Lüneburg', spellings: ['Lueneburg'], postalPrefix: '213', postalDigits: 5, country: 'DE', areaCode: '4131' },
  { city: 'Würzburg', spellings: ['Wuerzburg'], postalPrefix: '970', postalDigits: 5, country: 'DE', areaCode: '931' },
  { city: 'Rostock', spellings: [], postalPrefix: '18', postalDigits: 5, country: 'DE', areaCode: '381' },
  { city: 'Zürich', spellings: ['Zuerich', 'Zurich'], postalPrefix: '80', postalDigits: 4, country: 'CH', areaCode: '44' },
  { city: 'Bern', spellings: ['BERN'], postalPrefix: '30', postalDigits: 4, country: 'CH', areaCode: '31' },
  { city: 'Basel', spellings: [], postalPrefix: '40', postalDigits: 4, country: 'CH', areaCode: '61' },
  { city: 'Luzern', spellings: ['Lucerne'], postalPrefix: '60', postalDigits: 4, country: 'CH', areaCode: '41' },
  { city: 'St. Gallen', spellings: ['St.Gallen', 'Sankt Gallen'], postalPrefix: '90', postalDigits: 4, country: 'CH', areaCode: '71' },
  { city: 'Wien', spellings: ['WIEN'], postalPrefix: '1', postalDigits: 4, country: 'AT', areaCode: '1' },
]

const FAMILY_NAMES = [
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann', 'Schäfer', 'Koch',
  'Bauer', 'Richter', 'Klein', 'Wolf', 'Schröder', 'Neumann', 'Schwarz', 'Zimmermann', 'Braun', 'Krüger', 'Hofmann', 'Hartmann',
  'Lange', 'Schmitt', 'Werner', 'Schmitz', 'Krause', 'Meier', 'Lehmann', 'Schmid', 'Schulze', 'Maier', 'Köhler', 'Herrmann',
  'König', 'Walter', 'Mayer', 'Huber', 'Kaiser', 'Fuchs', 'Peters', 'Lang', 'Scholz', 'Möller', 'Weiß', 'Jung', 'Hahn', 'Vogel',
  'Friedrich', 'Keller', 'Günther', 'Frank', 'Berger', 'Winkler', 'Roth', 'Beck', 'Lorenz', 'Baumann', 'Franke', 'Albrecht',
  'Schuster', 'Simon', 'Ludwig', 'Böhm', 'Winter', 'Kraus', 'Martin', 'Schumacher', 'Krämer', 'Vogt', 'Stein', 'Jäger', 'Otto',
  'Sommer', 'Groß', 'Seidel', 'Heinrich', 'Brandt', 'Haas', 'Schreiber', 'Graf', 'Schulte', 'Dietrich', 'Ziegler', 'Kuhn',
  'Kühn', 'Pohl', 'Engel', 'Horn', 'Busch', 'Bergmann', 'Thomas', 'Voigt', 'Sauer', 'Arnold', 'Wolff', 'Pfeiffer', 'Gerber',
  'Brunner', 'Gässler', 'Bühler', 'Lüthi', 'Zürcher', 'Näf', 'Blättler', 'Rüegg', 'Strauß', 'Nußbaum', 'Fußmann', 'Grüner',
]
const FIRST_NAMES = [
  'Anna', 'Hans', 'Peter', 'Julia', 'Thomas', 'Sabine', 'Michael', 'Andrea', 'Stefan', 'Claudia', 'Jörg', 'Jürgen', 'Sören',
  'Björn', 'Ursula', 'Katrin', 'Markus', 'Lea', 'Lukas', 'Sophie', 'Matthias', 'Petra', 'Andreas', 'Monika', 'Daniel', 'Nicole',
  'René', 'Zoë', 'Gisela', 'Frank', 'Heike', 'Uwe', 'Ralf', 'Birgit', 'Reto', 'Urs', 'Beat', 'Regula', 'Corinne', 'Marco',
]
// Distinctive words of inn and hotel names: many are common all over the country.
const INN_WORDS = [
  'Adler', 'Löwen', 'Hirsch', 'Bären', 'Schwanen', 'Ochsen', 'Rössle', 'Lamm', 'Sonne', 'Krone', 'Stern', 'Linde', 'Rose', 'Post',
  'Traube', 'Engel', 'Hecht', 'Kreuz', 'Mohren', 'Rappen', 'Schiff', 'Falken', 'Storchen', 'Wilden Mann', 'Goldenen Hirsch',
  'Alten Mühle', 'Seeblick', 'Bergblick', 'Waldeck', 'Lindenhof', 'Tannenhof', 'Rheinblick', 'Schlossblick', 'Eichhorn',
]
const FANTASY_NAMES = [
  'Bella Vista', 'La Piazza', 'Da Mario', 'Il Gabbiano', 'Taj Mahal', 'Little Saigon', 'Zafferano', 'Olivo', 'Sansibar',
  'Blaue Blume', 'Grünes Gewölbe', 'Zeitlos', 'Genusswerk', 'Frischeküche', 'Kochwerk', 'Tafelspitz', 'Brotzeit',
  'Feinschmecker', 'Gaumenfreude', 'Kräutergarten', 'Löffelwerk', 'Süßes Eck', 'Schmankerl', 'Heimatküche', 'Weltenbummler',
  'Hafenküche', 'Elbterrasse', 'Isartal', 'Spreeblick', 'Limmatquai', 'Aarehof', 'Rebstock', 'Weinberg', 'Marktküche',
]
const CHAINS = [
  { brand: 'Vapiano', legal: 'Vapiano SE', domain: 'vapiano.de', type: 'RESTAURANT' },
  { brand: 'L’Osteria', legal: 'L’Osteria GmbH', domain: 'losteria.net', type: 'RESTAURANT' },
  { brand: 'Block House', legal: 'Block House Restaurantbetriebe AG', domain: 'block-house.de', type: 'RESTAURANT' },
  { brand: 'Maredo', legal: 'Maredo Restaurants GmbH', domain: 'maredo.de', type: 'RESTAURANT' },
  { brand: 'Motel One', legal: 'Motel One GmbH', domain: 'motel-one.com', type: 'HOTEL' },
  { brand: 'Ibis Budget', legal: 'Accor Hospitality Germany GmbH', domain: 'accor.com', type: 'HOTEL' },
  { brand: 'Hans im Glück', legal: 'Hans im Glück Franchise GmbH', domain: 'hansimglueck-burgergrill.de', type: 'RESTAURANT' },
  { brand: 'Coop Restaurant', legal: 'Coop Genossenschaft', domain: 'coop.ch', type: 'RESTAURANT' },
  { brand: 'Migros Restaurant', legal: 'Migros-Genossenschafts-Bund', domain: 'migros.ch', type: 'RESTAURANT' },
  { brand: 'Sodexo Betriebsrestaurant', legal: 'Sodexo Services GmbH', domain: 'sodexo.com', type: 'KANTINE' },
  { brand: 'Compass Group Kantine', legal: 'Compass Group Deutschland GmbH', domain: 'compass-group.de', type: 'KANTINE' },
  { brand: 'Dean & David', legal: 'Dean & David Franchise GmbH', domain: 'deananddavid.de', type: 'RESTAURANT' },
  { brand: 'Backwerk', legal: 'BackWerk Management GmbH', domain: 'back-werk.de', type: 'LEH' },
  { brand: 'Steigenberger Hotel', legal: 'Steigenberger Hotels GmbH', domain: 'steigenberger.com', type: 'HOTEL' },
  { brand: 'Marché Mövenpick', legal: 'Marché International AG', domain: 'marche-restaurants.com', type: 'RESTAURANT' },
  { brand: 'Asklepios Klinik', legal: 'Asklepios Kliniken GmbH & Co. KGaA', domain: 'asklepios.com', type: 'GESUNDHEIT' },
]
const STREET_STEMS = [
  'Haupt', 'Bahnhof', 'Schiller', 'Goethe', 'Garten', 'Kirch', 'Berg', 'Linden', 'Wald', 'Dorf', 'Ring', 'Schul', 'Markt',
  'Mühlen', 'Friedrich', 'Wilhelm', 'Kaiser', 'König', 'Post', 'Brunnen', 'Rosen', 'Blumen', 'Tal', 'See', 'Fluss', 'Brücken',
  'Industrie', 'Gewerbe', 'Feld', 'Wiesen', 'Eichen', 'Buchen', 'Birken', 'Sonnen', 'Mozart', 'Beethoven', 'Bismarck', 'Luisen',
  'Theodor-Heuss-', 'Konrad-Adenauer-', 'Münster', 'Zürcher', 'Bäcker', 'Löwen', 'Obere ', 'Untere ', 'Neue ', 'Alte ',
]
const FREE_MAIL = ['gmail.com', 'gmx.de', 'web.de', 't-online.de', 'outlook.com', 'bluewin.ch', 'hotmail.com', 'yahoo.de', 'gmx.ch', 'icloud.com']

const KINDS: { type: string; names: ((r: Rng) => string)[] }[] = [
  {
    type: 'RESTAURANT',
    names: [
      (r) => `Restaurant ${r.pick(FAMILY_NAMES)}`,
      (r) => `Gasthaus zum ${r.pick(INN_WORDS)}`,
      (r) => `Zum ${r.pick(INN_WORDS)}`,
      (r) => `Restaurant ${r.pick(FANTASY_NAMES)}`,
      (r) => `Trattoria ${r.pick(FANTASY_NAMES)}`,
      (r) => `${r.pick(FANTASY_NAMES)}`,
      (r) => `Café ${r.pick(FAMILY_NAMES)}`,
      (r) => `Bistro ${r.pick(FANTASY_NAMES)}`,
      (r) => `${r.pick(FAMILY_NAMES)}s Wirtshaus`,
      (r) => `Landgasthof ${r.pick(INN_WORDS)}`,
    ],
  },
  {
    type: 'HOTEL',
    names: [
      (r) => `Hotel ${r.pick(INN_WORDS)}`,
      (r) => `Hotel zur ${r.pick(INN_WORDS)}`,
      (r) => `Hotel ${r.pick(FAMILY_NAMES)}`,
      (r) => `Hotel & Restaurant ${r.pick(INN_WORDS)}`,
      (r) => `Pension ${r.pick(FAMILY_NAMES)}`,
      (r) => `${r.pick(FANTASY_NAMES)} Hotel`,
      (r) => `Gasthof ${r.pick(INN_WORDS)}`,
    ],
  },
  {
    type: 'CATERING',
    names: [(r) => `${r.pick(FAMILY_NAMES)} Catering`, (r) => `Partyservice ${r.pick(FAMILY_NAMES)}`, (r) => `${r.pick(FANTASY_NAMES)} Catering`, (r) => `Catering ${r.pick(FAMILY_NAMES)} & ${r.pick(FAMILY_NAMES)}`],
  },
  {
    type: 'KANTINE',
    names: [(r) => `Betriebsrestaurant ${r.pick(FAMILY_NAMES)} Werke`, (r) => `Kantine ${r.pick(FAMILY_NAMES)}`, (r) => `Mensa ${r.pick(FANTASY_NAMES)}`],
  },
  {
    type: 'LEH',
    names: [(r) => `Bäckerei ${r.pick(FAMILY_NAMES)}`, (r) => `Metzgerei ${r.pick(FAMILY_NAMES)}`, (r) => `Feinkost ${r.pick(FAMILY_NAMES)}`, (r) => `${r.pick(FAMILY_NAMES)} Frischemarkt`],
  },
  {
    type: 'GESUNDHEIT',
    names: [(r) => `Seniorenresidenz ${r.pick(FANTASY_NAMES)}`, (r) => `Klinik ${r.pick(INN_WORDS)}`, (r) => `Pflegeheim ${r.pick(FAMILY_NAMES)}`],
  },
  {
    type: 'GROSSHANDEL',
    names: [(r) => `${r.pick(FAMILY_NAMES)} Großhandel`, (r) => `Getränke ${r.pick(FAMILY_NAMES)}`, (r) => `${r.pick(FAMILY_NAMES)} & ${r.pick(FAMILY_NAMES)} Lebensmittel`],
  },
]
const LEGAL_FORMS_DE = ['GmbH', 'GmbH & Co. KG', 'e.K.', 'UG (haftungsbeschränkt)', 'OHG', 'KG', 'AG']
const LEGAL_FORMS_CH = ['AG', 'GmbH', 'Sàrl', 'SA']

class Rng {
  readonly #next: () => number
  /** Domains and mailboxes handed out: two businesses never share one (a chain's branches share the domain, not the mailbox). */
  readonly taken = new Set<string>()
  constructor(seed: number) {
    this.#next = prng(seed)
  }
  float(): number {
    return this.#next()
  }
  chance(p: number): boolean {
    return this.#next() < p
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1))
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)]!
  }
  digits(n: number): string {
    let out = ''
    for (let i = 0; i < n; i++) out += String(this.int(0, 9))
    return out
  }
}

interface Business {
  name: string
  legalForm: string | null
  type: string
  town: Town
  postalCode: string
  streetName: string
  houseNumber: string
  subscriber: string
  contactFirst: string
  contactLast: string
  domain: string | null
  mailbox: string
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/ä/g, 'ae').replace(/ö/g, 'oe').replace(/ü/g, 'ue').replace(/ß/g, 'ss')
    .normalize('NFKD').replace(/\p{M}+/gu, '')
    .replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
}

function postalCodeIn(r: Rng, town: Town): string {
  return town.postalPrefix + r.digits(town.postalDigits - town.postalPrefix.length)
}

function streetName(r: Rng): string {
  const stem = r.pick(STREET_STEMS)
  const suffix = r.pick(['straße', 'straße', 'straße', 'weg', 'platz', 'allee', 'gasse'])
  if (stem.endsWith(' ')) return `${stem}${suffix[0]!.toUpperCase()}${suffix.slice(1)}`
  return `${stem}${suffix}`
}

function newBusiness(r: Rng, overrides: Partial<Business> = {}): Business {
  const kind = r.pick(KINDS)
  const town = overrides.town ?? r.pick(TOWNS)
  const name = overrides.name ?? r.pick(kind.names)(r)
  const forms = town.country === 'CH' ? LEGAL_FORMS_CH : LEGAL_FORMS_DE
  const contactLast = r.pick(FAMILY_NAMES)
  const ownDomain = r.chance(0.6)
  const tld = town.country === 'CH' ? 'ch' : town.country === 'AT' ? 'at' : 'de'
  let domain: string | null = null
  if (ownDomain) {
    domain = `${slug(name).slice(0, 30)}${r.chance(0.3) ? `-${slug(town.city).split('-')[0]}` : ''}.${tld}`
    for (let n = 2; r.taken.has(domain); n++) domain = `${slug(name).slice(0, 30)}-${slug(town.city).split('-')[0]}${n > 2 ? n : ''}.${tld}`
    r.taken.add(domain)
  }
  return {
    name,
    legalForm: r.chance(0.55) ? r.pick(forms) : null,
    type: kind.type,
    town,
    postalCode: postalCodeIn(r, town),
    streetName: streetName(r),
    houseNumber: `${r.int(1, 180)}${r.chance(0.1) ? r.pick(['a', 'b', 'c']) : ''}`,
    // Swiss and Austrian numbers have fixed lengths (9 digits after the 0 in CH); German ones vary.
    subscriber: r.digits(town.country === 'CH' ? 9 - town.areaCode.length : town.country === 'AT' ? r.int(6, 8) : r.int(6, 8) - Math.max(0, town.areaCode.length - 3)),
    contactFirst: r.pick(FIRST_NAMES),
    contactLast,
    domain,
    mailbox: ownDomain ? r.pick(['info', 'kontakt', 'office', 'mail', 'reservierung']) : `${slug(contactLast)}.${r.digits(4)}`,
    ...overrides,
  }
}

// ---- how people write things ---------------------------------------------------------------------

function phoneVariant(r: Rng, b: Business): string {
  const cc = b.town.country === 'CH' ? '41' : b.town.country === 'AT' ? '43' : '49'
  const area = b.town.areaCode
  const s = b.subscriber
  const spaced = s.length > 4 ? `${s.slice(0, s.length - 4)} ${s.slice(-4, -2)} ${s.slice(-2)}` : s
  return r.pick([
    `0${area} ${s}`,
    `0${area}/${s}`,
    `0${area}-${s}`,
    `+${cc} ${area} ${s}`,
    `+${cc} (0)${area} ${spaced}`,
    `00${cc} ${area} ${s}`,
    `+${cc}${area}${s}`,
    `(0${area}) ${spaced}`,
  ])
}

function transliterate(text: string, r: Rng): string {
  const style = r.int(0, 2)
  if (style === 0) return text.replace(/ä/g, 'ae').replace(/ö/g, 'oe').replace(/ü/g, 'ue').replace(/Ä/g, 'Ae').replace(/Ö/g, 'Oe').replace(/Ü/g, 'Ue').replace(/ß/g, 'ss')
  if (style === 1) return text.normalize('NFKD').replace(/\p{M}+/gu, '').replace(/ß/g, 'ss')
  return text.replace(/ß/g, 'ss')
}

/** One typo in a word of at least five letters: a letter dropped, doubled, swapped or mistyped. */
function typo(text: string, r: Rng): string {
  const words = text.split(' ')
  const candidates = words.map((w, i) => ({ w, i })).filter(({ w }) => w.length >= 5 && /^\p{L}+$/u.test(w))
  if (candidates.length === 0) return text
  const { w, i } = r.pick(candidates)
  const at = r.int(1, w.length - 2)
  const op = r.int(0, 3)
  let changed: string
  if (op === 0) changed = w.slice(0, at) + w.slice(at + 1)
  else if (op === 1) changed = w.slice(0, at) + w[at] + w.slice(at)
  else if (op === 2) changed = w.slice(0, at) + w[at + 1] + w[at] + w.slice(at + 2)
  else changed = w.slice(0, at) + r.pick([...'aeiounrst']) + w.slice(at + 1)
  words[i] = changed
  return words.join(' ')
}

const BUSINESS_WORDS = /^(?:Restaurant|Café|Cafe|Bistro|Hotel|Gasthaus|Gasthof|Pension|Trattoria|Landgasthof|Partyservice|Kantine|Mensa|Bäckerei|Metzgerei|Feinkost)$/u

function nameVariant(r: Rng, b: Business): string {
  let name = b.name
  // Words in another order: "Müller Catering" / "Catering Müller".
  if (r.chance(0.15)) {
    const words = name.split(' ')
    if (words.length === 2) name = `${words[1]} ${words[0]}`
  }
  // A business word dropped or added.
  if (r.chance(0.12)) {
    const words = name.split(' ')
    if (words.length > 1 && BUSINESS_WORDS.test(words[0]!)) name = words.slice(1).join(' ')
    else name = `${b.type === 'HOTEL' ? 'Hotel' : b.type === 'CATERING' ? 'Partyservice' : 'Restaurant'} ${name}`
  }
  if (r.chance(0.45)) name = transliterate(name, r)
  if (r.chance(0.3)) name = typo(name, r)
  if (r.chance(0.1)) name = name.toUpperCase()
  else if (r.chance(0.05)) name = name.toLowerCase()
  const forms = b.town.country === 'CH' ? LEGAL_FORMS_CH : LEGAL_FORMS_DE
  const legal = r.chance(0.5) ? b.legalForm : r.chance(0.5) ? null : r.pick(forms)
  return legal ? `${name}${r.chance(0.2) ? ',' : ''} ${legal}` : name
}

function streetVariant(r: Rng, b: Business): string {
  let street = b.streetName
  const form = r.int(0, 3)
  if (form === 1) street = street.replace(/straße$/u, 'str.').replace(/Straße$/u, 'Str.')
  else if (form === 2) street = street.replace(/straße$/u, 'strasse').replace(/Straße$/u, 'Strasse')
  else if (form === 3) street = street.replace(/straße$/u, ' Str.').replace(/platz$/u, 'pl.')
  if (r.chance(0.15)) street = transliterate(street, r)
  if (r.chance(0.08)) street = typo(street, r)
  const number = r.chance(0.1) ? b.houseNumber.replace(/([a-c])$/u, ' $1') : b.houseNumber
  return `${street} ${number}`
}

function cityVariant(r: Rng, b: Business): string {
  return r.chance(0.3) && b.town.spellings.length > 0 ? r.pick(b.town.spellings) : b.town.city
}

function contactVariant(r: Rng, b: Business): string {
  const first = b.contactFirst
  const last = b.contactLast
  return r.pick([
    `${first} ${last}`,
    `${first} ${last}`,
    `${last}, ${first}`,
    `${first} ${transliterate(last, r)}`,
    `Herr ${first} ${last}`.replace(/^Herr (Anna|Julia|Sabine|Andrea|Claudia|Ursula|Katrin|Lea|Sophie|Petra|Monika|Nicole|Zoë|Gisela|Heike|Birgit|Regula|Corinne)/u, 'Frau $1'),
    `${first.toUpperCase()} ${last.toUpperCase()}`,
  ])
}

function emailOf(b: Business, r: Rng, person: boolean): string {
  if (b.domain) {
    const local = person ? `${slug(b.contactFirst)}.${slug(b.contactLast)}` : b.mailbox
    return `${local}@${b.domain}`
  }
  return `${b.mailbox}@${r.pick(FREE_MAIL)}`
}

function emailCase(email: string, r: Rng): string {
  const style = r.int(0, 3)
  if (style === 1) return email.toUpperCase()
  if (style === 2) return email.replace(/^./u, (c) => c.toUpperCase()).replace(/@(.)/u, (_, c: string) => `@${c.toUpperCase()}`)
  if (style === 3) return ` ${email} `
  return email
}

/** A complete entry of a business, as a form with every field filled in. */
function fullLead(r: Rng, b: Business): DatasetLead {
  return {
    companyName: b.legalForm ? `${b.name} ${b.legalForm}` : b.name,
    contactName: `${b.contactFirst} ${b.contactLast}`,
    email: emailOf(b, r, false),
    phone: phoneVariant(r, b),
    street: `${b.streetName} ${b.houseNumber}`,
    postalCode: b.postalCode,
    city: b.town.city,
    countryCode: b.town.country,
    businessType: b.type,
  }
}

/** The same business entered again, by someone else, with a form that asked for less. */
function secondEntry(r: Rng, b: Business, first: DatasetLead): DatasetLead {
  const lead: DatasetLead = { companyName: nameVariant(r, b), countryCode: b.town.country }
  // What the second entry has; a web form often has name, e-mail and town only.
  const profile = r.pick(['full', 'full', 'full', 'web', 'web', 'fair', 'phone'] as const)
  const has = {
    phone: profile === 'full' || profile === 'phone' ? r.chance(0.9) : r.chance(0.35),
    email: profile === 'full' || profile === 'web' ? r.chance(0.85) : r.chance(0.4),
    street: profile === 'full' || profile === 'fair' ? r.chance(0.9) : r.chance(0.3),
    town: r.chance(0.93),
    contact: r.chance(0.7),
    type: r.chance(0.6),
  }
  if (has.phone) lead.phone = phoneVariant(r, b)
  if (has.email) {
    // The same address (in other case) is the hard duplicate; more often another person's or box at the company.
    const which = r.int(0, 2)
    if (which === 0 && first.email) lead.email = emailCase(first.email, r)
    else if (which === 1) lead.email = emailOf(b, r, true)
    else if (b.domain) {
      const box = r.pick(['buchhaltung', 'einkauf', 'kueche', 'events', 'gf'])
      // A chain has one such box per branch.
      lead.email = r.taken.has(`${box}@${b.domain}`) ? `${box}.${b.mailbox}@${b.domain}` : `${box}@${b.domain}`
      r.taken.add(lead.email)
    } else lead.email = `${slug(b.contactFirst)}.${slug(b.contactLast)}${r.digits(2)}@${r.pick(FREE_MAIL)}`
  }
  if (has.street) lead.street = streetVariant(r, b)
  if (has.town) {
    if (r.chance(0.85)) lead.postalCode = b.postalCode
    if (r.chance(0.9) || !lead.postalCode) lead.city = cityVariant(r, b)
  }
  if (has.contact) lead.contactName = contactVariant(r, b)
  if (has.type) lead.businessType = r.chance(0.9) ? b.type : 'SONSTIGES'
  return lead
}

/** A first entry that is itself incomplete now and then. */
function firstEntry(r: Rng, b: Business): DatasetLead {
  const lead = fullLead(r, b)
  if (r.chance(0.15)) delete lead.phone
  if (r.chance(0.15)) delete lead.contactName
  if (r.chance(0.1)) delete lead.street
  if (r.chance(0.2)) delete lead.businessType
  return lead
}

function otherTown(r: Rng, town: Town): Town {
  for (;;) {
    const other = r.pick(TOWNS)
    if (other.city !== town.city) return other
  }
}

// ---- the pairs -------------------------------------------------------------------------------------

function duplicatePair(r: Rng): DatasetPair {
  const b = newBusiness(r)
  const a = firstEntry(r, b)
  const second = secondEntry(r, b, a)
  return r.chance(0.5) ? { a, b: second, duplicate: true, kind: 'duplicate' } : { a: second, b: a, duplicate: true, kind: 'duplicate' }
}

/** Two different businesses, each entered by someone (so with the usual variation and gaps). */
function entriesOf(r: Rng, x: Business, y: Business): [DatasetLead, DatasetLead] {
  const a = firstEntry(r, x)
  const b = r.chance(0.5) ? firstEntry(r, y) : secondEntry(r, y, fullLead(r, y))
  return [a, b]
}

function nonDuplicatePair(r: Rng): DatasetPair {
  const roll = r.float()
  if (roll < 0.25) {
    // The same generic name in two cities.
    const x = newBusiness(r, { name: r.pick([`Hotel zur ${r.pick(INN_WORDS)}`, `Gasthaus zum ${r.pick(INN_WORDS)}`, `Hotel ${r.pick(INN_WORDS)}`, `Restaurant ${r.pick(FANTASY_NAMES)}`, `Café ${r.pick(FAMILY_NAMES)}`, `${r.pick(FANTASY_NAMES)}`]) })
    const y = newBusiness(r, { name: x.name, type: x.type, legalForm: r.chance(0.5) ? x.legalForm : null, town: otherTown(r, x.town) })
    const [a, b] = entriesOf(r, x, y)
    return { a, b, duplicate: false, kind: 'generic-name-other-city' }
  }
  if (roll < 0.5) {
    // Branches of one chain: one brand, one company domain, one legal entity.
    const chain = r.pick(CHAINS)
    const sameCity = r.chance(0.15)
    const x = newBusiness(r, { type: chain.type, domain: chain.domain, legalForm: null })
    const townY = sameCity ? x.town : otherTown(r, x.town)
    const y = newBusiness(r, { type: chain.type, domain: chain.domain, legalForm: null, town: townY })
    const nameOf = (b: Business) =>
      r.pick([chain.brand, `${chain.brand} ${b.town.city}`, `${chain.legal}`, `${chain.brand} ${b.town.city} ${b.streetName.replace(/straße$/u, 'str.')}`])
    x.name = nameOf(x)
    y.name = nameOf(y)
    for (const branch of [x, y]) {
      branch.mailbox = slug(branch.town.city)
      for (let n = 2; r.taken.has(`${branch.mailbox}@${chain.domain}`); n++) branch.mailbox = `${slug(branch.town.city)}${n}`
      r.taken.add(`${branch.mailbox}@${chain.domain}`)
    }
    const [a, b] = entriesOf(r, x, y)
    return { a, b, duplicate: false, kind: sameCity ? 'chain-branch-same-city' : 'chain-branch-other-city' }
  }
  if (roll < 0.72) {
    // Two businesses of one kind in one town, often one postal code.
    const x = newBusiness(r)
    const y = newBusiness(r, { town: x.town, type: x.type, postalCode: r.chance(0.6) ? x.postalCode : postalCodeIn(r, x.town) })
    const kind = KINDS.find((k) => k.type === x.type)!
    y.name = r.pick(kind.names)(r)
    if (slugWords(y.name) === slugWords(x.name)) y.name = `${y.name} ${r.pick(FANTASY_NAMES)}`
    const [a, b] = entriesOf(r, x, y)
    return { a, b, duplicate: false, kind: 'same-kind-same-town' }
  }
  if (roll < 0.84) {
    // One family name, two trades, one town: "Bäckerei Müller", "Metzgerei Müller".
    const family = r.pick(FAMILY_NAMES)
    const trades = r.pick([['Bäckerei', 'Metzgerei'], ['Café', 'Partyservice'], ['Hotel', 'Bäckerei'], ['Restaurant', 'Getränke'], ['Pension', 'Metzgerei'], ['Feinkost', 'Gasthaus']])
    const x = newBusiness(r, { name: `${trades[0]} ${family}`, type: trades[0] === 'Hotel' || trades[0] === 'Pension' ? 'HOTEL' : 'LEH' })
    const y = newBusiness(r, { name: `${trades[1]} ${family}`, town: x.town, type: trades[1] === 'Partyservice' ? 'CATERING' : trades[1] === 'Gasthaus' ? 'RESTAURANT' : trades[1] === 'Getränke' ? 'GROSSHANDEL' : 'LEH', postalCode: r.chance(0.5) ? x.postalCode : postalCodeIn(r, x.town) })
    const [a, b] = entriesOf(r, x, y)
    return { a, b, duplicate: false, kind: 'family-name-other-trade' }
  }
  if (roll < 0.93) {
    // Neighbours in one building or one street: a food court, a shopping arcade.
    const x = newBusiness(r)
    const y = newBusiness(r, { town: x.town, postalCode: x.postalCode, streetName: x.streetName, houseNumber: r.chance(0.6) ? x.houseNumber : `${r.int(1, 180)}` })
    if (slugWords(y.name) === slugWords(x.name)) y.name = `${y.name} ${r.pick(FANTASY_NAMES)}`
    const [a, b] = entriesOf(r, x, y)
    return { a, b, duplicate: false, kind: 'same-building' }
  }
  // Similar but different names in one town: "Zum Adler" and "Zum Goldenen Adler", "Café Schmidt" and "Café Schmitt".
  const x = newBusiness(r)
  const y = newBusiness(r, { town: x.town, type: x.type })
  const twins: [string, string][] = [
    ['Schmidt', 'Schmitt'], ['Meier', 'Maier'], ['Meyer', 'Mayer'], ['Hofmann', 'Hoffmann'], ['Schulz', 'Schulze'], ['Wolf', 'Wolff'],
    ['Kraus', 'Krause'], ['Lang', 'Lange'], ['Kuhn', 'Kühn'], ['Schmitz', 'Schmid'],
  ]
  const [left, right] = r.pick(twins)
  const kind = r.pick(['Café', 'Restaurant', 'Bäckerei', 'Partyservice', 'Pension', 'Metzgerei'])
  x.name = `${kind} ${left}`
  y.name = `${kind} ${right}`
  const [a, b] = entriesOf(r, x, y)
  return { a, b, duplicate: false, kind: 'similar-name-same-town' }
}

function slugWords(name: string): string {
  return slug(name).split('-').sort().join('-')
}

/** The labelled pairs; the same options give the same pairs. */
export function generateMatchingDataset(options: DatasetOptions = {}): DatasetPair[] {
  const r = new Rng(options.seed ?? 20_260_101)
  const pairs: DatasetPair[] = []
  const duplicates = options.duplicates ?? 1_200
  const nonDuplicates = options.nonDuplicates ?? 1_200
  for (let i = 0; i < duplicates; i++) pairs.push(duplicatePair(r))
  for (let i = 0; i < nonDuplicates; i++) pairs.push(nonDuplicatePair(r))
  return pairs
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import('node:util')
  const { values } = parseArgs({ options: { seed: { type: 'string' }, duplicates: { type: 'string' }, 'non-duplicates': { type: 'string' } } })
  const pairs = generateMatchingDataset({
    seed: values.seed === undefined ? undefined : Number(values.seed),
    duplicates: values.duplicates === undefined ? undefined : Number(values.duplicates),
    nonDuplicates: values['non-duplicates'] === undefined ? undefined : Number(values['non-duplicates']),
  })
  process.stdout.write(`${JSON.stringify(pairs, null, 1)}\n`)
}
