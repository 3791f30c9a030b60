import test from 'ava'
import {
  cityKey,
  companyEmailDomain,
  companyNameKey,
  companyNameSimilarity,
  companyNameTokens,
  contactNameKey,
  DEFAULT_REVIEW_THRESHOLD,
  isFreeMailDomain,
  matchProfile,
  scoreMatch,
  streetKey,
  type MatchFields,
} from '../../models/matching.ts'

const similarity = (a: string, b: string) => companyNameSimilarity(companyNameTokens(a), companyNameTokens(b))
const score = (a: MatchFields, b: MatchFields) => scoreMatch(matchProfile(a), matchProfile(b))

test('company names: legal forms, umlaut transliteration, word order and a typo do not matter', (t) => {
  t.is(companyNameKey('Café Müller GmbH'), 'muller')
  t.is(companyNameKey('Cafe Mueller'), 'muller')
  t.is(similarity('Café Müller GmbH', 'CAFE MUELLER'), 1)
  t.is(similarity('Müller Catering GmbH & Co. KG', 'Catering Mueller'), 1)
  t.is(similarity('Großküche Süd e.V.', 'Grosskueche Sued'), 1)
  t.true(similarity('Gasthaus zum Hirschen', 'Gasthaus zum Hrischen') >= 0.8, 'swapped letters')
  t.true(similarity('Restaurant Lindenhof', 'Restaurant Lindenhoff') >= 0.8, 'a doubled letter')
  t.true(similarity('Bäckerei Schmidt', 'Bäckerei Wagner') < 0.3)
  // One family name, two trades: less alike than the name alone suggests.
  t.true(similarity('Bäckerei Müller', 'Metzgerei Müller') < 0.7)
})

test('streets: Straße, Strasse, Str. and a house number written apart are one street', (t) => {
  t.deepEqual(streetKey('Hauptstraße 12a'), { name: 'hauptstrasse', number: '12a' })
  t.deepEqual(streetKey('Hauptstr. 12 a'), { name: 'hauptstrasse', number: '12a' })
  t.deepEqual(streetKey('Haupt Strasse 12a'), { name: 'hauptstrasse', number: '12a' })
  t.deepEqual(streetKey('Marktpl. 3'), { name: 'marktplatz', number: '3' })
  t.is(streetKey('  '), null)
})

test('cities, contacts: qualifiers, transliteration, titles and order are folded away', (t) => {
  t.is(cityKey('Frankfurt am Main'), cityKey('Frankfurt'))
  t.is(cityKey('Zürich'), cityKey('Zuerich'))
  t.is(cityKey('Köln'), cityKey('Cologne'))
  t.is(contactNameKey('Dr. Hans Müller'), contactNameKey('Mueller, Hans'))
})

test('free-mail domains never count as a company domain', (t) => {
  for (const domain of ['gmail.com', 'googlemail.com', 'gmx.de', 'gmx.net', 'gmx.ch', 'web.de', 't-online.de', 'outlook.com', 'hotmail.com', 'yahoo.de', 'yahoo.co.uk', 'icloud.com', 'bluewin.ch', 'hispeed.ch', 'sunrise.ch', 'gmx.at', 'aol.com', 'proton.me']) {
    t.true(isFreeMailDomain(domain), domain)
  }
  t.false(isFreeMailDomain('cafe-mueller.de'))
  t.is(companyEmailDomain('anna@gmx.de'), null)
  t.is(companyEmailDomain('anna@cafe-mueller.de'), 'cafe-mueller.de')
  const a = { companyName: 'Alpha', emailNormalized: 'a@gmail.com' }
  const b = { companyName: 'Beta', emailNormalized: 'b@gmail.com' }
  t.false(score(a, b).reasons.includes('EMAIL_DOMAIN'))
})

test('the same e-mail is the hard duplicate: 100, EMAIL', (t) => {
  t.deepEqual(score({ companyName: 'A', emailNormalized: 'x@y.de' }, { companyName: 'B', emailNormalized: 'x@y.de' }), { score: 100, reasons: ['EMAIL'] })
})

test('the café of the trade fair and of the web form is a possible duplicate', (t) => {
  const fair = { companyName: 'Café Müller GmbH', phoneE164: '+4930123456', street: 'Hauptstraße 5', postalCode: '10115', city: 'Berlin', contactName: 'Anna Müller' }
  const web = { companyName: 'Cafe Mueller', phoneE164: '+4930123456', street: 'Hauptstr. 5', postalCode: '10115', city: 'Berlin' }
  const result = score(fair, web)
  t.true(result.score >= DEFAULT_REVIEW_THRESHOLD)
  t.deepEqual(result.reasons, ['COMPANY_NAME', 'PHONE', 'ADDRESS'])
  // Only name and town, nothing else: just at the threshold.
  t.true(score({ companyName: 'Café Müller', city: 'Berlin' }, { companyName: 'Cafe Mueller GmbH', city: 'Berlin' }).score >= DEFAULT_REVIEW_THRESHOLD)
})

test('the same generic name in another city, and chain branches in other cities, are different leads', (t) => {
  const post = score(
    { companyName: 'Hotel zur Post', postalCode: '82467', city: 'Garmisch-Partenkirchen', street: 'Bahnhofstraße 1' },
    { companyName: 'Hotel zur Post', postalCode: '70173', city: 'Stuttgart', street: 'Bahnhofstraße 1' },
  )
  t.true(post.score < DEFAULT_REVIEW_THRESHOLD, `Hotel zur Post: ${post.score}`)
  const chain = score(
    { companyName: 'Vapiano Berlin', emailNormalized: 'berlin@vapiano.de', postalCode: '10115', city: 'Berlin' },
    { companyName: 'Vapiano', emailNormalized: 'hamburg@vapiano.de', postalCode: '20095', city: 'Hamburg' },
  )
  t.true(chain.score < DEFAULT_REVIEW_THRESHOLD, `chain: ${chain.score}`)
  const sameCity = score(
    { companyName: 'Vapiano', emailNormalized: 'berlin@vapiano.de', street: 'Potsdamer Platz 5', postalCode: '10785', city: 'Berlin' },
    { companyName: 'Vapiano', emailNormalized: 'berlin2@vapiano.de', street: 'Alexanderplatz 1', postalCode: '10178', city: 'Berlin' },
  )
  t.true(sameCity.score < DEFAULT_REVIEW_THRESHOLD, `chain, one city: ${sameCity.score}`)
})
