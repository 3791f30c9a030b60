import test from 'ava'
import { NORMALIZATION_VERSION, normalizeCompanyName, normalizeEmail, normalizePhone } from '../../models/normalization.ts'

test('the normalization version is 2 (match keys of §11)', (t) => {
  t.is(NORMALIZATION_VERSION, 2)
})

// §5 examples, verbatim.
test('§5 e-mail: " JoHn.Doe@EXAMPLE.COM " → john.doe@example.com', (t) => {
  t.is(normalizeEmail(' JoHn.Doe@EXAMPLE.COM '), 'john.doe@example.com')
})

test('§5 e-mail: "\\t" → null', (t) => {
  t.is(normalizeEmail('\t'), null)
})

test('§5 e-mail: test+tag@gmail.com unchanged when plus-tag removal is off, test@gmail.com when on', (t) => {
  t.is(normalizeEmail('test+tag@gmail.com'), 'test+tag@gmail.com')
  t.is(normalizeEmail('test+tag@gmail.com', { stripPlusTag: false }), 'test+tag@gmail.com')
  t.is(normalizeEmail('test+tag@gmail.com', { stripPlusTag: true }), 'test@gmail.com')
})

test('e-mail: null, undefined, empty and whitespace-only are null', (t) => {
  t.is(normalizeEmail(null), null)
  t.is(normalizeEmail(undefined), null)
  t.is(normalizeEmail(''), null)
  t.is(normalizeEmail(' \n\u00a0 ', { stripPlusTag: true }), null)
})

test('e-mail plus-tag removal: Gmail loses dots and googlemail.com becomes gmail.com; other domains keep dots', (t) => {
  const strip = { stripPlusTag: true }
  t.is(normalizeEmail('J.Doe+News@GoogleMail.com', strip), 'jdoe@gmail.com')
  t.is(normalizeEmail('j.d.o.e@googlemail.com', strip), 'jdoe@gmail.com')
  t.is(normalizeEmail('John.Doe+crm+x@example.com', strip), 'john.doe@example.com')
  t.is(normalizeEmail('john.doe@example.com', strip), 'john.doe@example.com')
  // Without the option nothing Gmail-specific happens either.
  t.is(normalizeEmail('j.doe@googlemail.com'), 'j.doe@googlemail.com')
})

test('e-mail plus-tag removal keeps the address when nothing of the mailbox name would remain', (t) => {
  t.is(normalizeEmail('+tag@example.com', { stripPlusTag: true }), '+tag@example.com')
  t.is(normalizeEmail('no-at-sign+x', { stripPlusTag: true }), 'no-at-sign+x')
})

test('§5 name examples, verbatim', (t) => {
  t.is(normalizeCompanyName('FreshFoodz GmbH'), 'freshfoodz')
  t.is(normalizeCompanyName('Firma GmbH & Co. KG'), 'firma')
  t.is(normalizeCompanyName('Example e.V.'), 'example')
  t.is(normalizeCompanyName('  Test Company AG  '), 'test company')
  t.is(normalizeCompanyName('Café Müller'), 'cafe muller')
  t.is(normalizeCompanyName('Großküche Süd'), 'grosskuche sud')
})

test('name: null, undefined and blank are null', (t) => {
  t.is(normalizeCompanyName(null), null)
  t.is(normalizeCompanyName(undefined), null)
  t.is(normalizeCompanyName(''), null)
  t.is(normalizeCompanyName(' \t\n '), null)
})

test('name: umlauts, ß (also capital ẞ), æ, œ, ø, ł and compatibility characters fold to ASCII', (t) => {
  t.is(normalizeCompanyName('Müller GmbH & Co. KG'), 'muller')
  t.is(normalizeCompanyName('STRAẞE Gastro'), 'strasse gastro')
  t.is(normalizeCompanyName('Smørrebrød Æblegård'), 'smorrebrod aeblegard')
  t.is(normalizeCompanyName('Œuvre Cœur'), 'oeuvre coeur')
  t.is(normalizeCompanyName('Łódź Delikatesy'), 'lodz delikatesy')
  t.is(normalizeCompanyName('Ø Kantine'), 'o kantine')
  t.is(normalizeCompanyName('Ｆｕｌｌｗｉｄｔｈ ﬁsh'), 'fullwidth fish')
})

test('name: whitespace of every kind collapses to single spaces', (t) => {
  t.is(normalizeCompanyName('Hotel\t\u00a0Zur   \n Post'), 'hotel zur post')
})

test('name: "UG (haftungsbeschränkt)" is dropped as one legal form, and the bare suffix too', (t) => {
  t.is(normalizeCompanyName('Foo UG (haftungsbeschränkt)'), 'foo')
  t.is(normalizeCompanyName('Foo UG (haftungsbeschraenkt)'), 'foo', 'the ASCII spelling too')
  t.is(normalizeCompanyName('Foo UG (haftungsbeschränkt) & Co. KG'), 'foo')
  t.is(normalizeCompanyName('Foo (haftungsbeschränkt)'), 'foo')
  t.is(normalizeCompanyName('Foo UG'), 'foo')
})

test('name: each legal form of §5 is dropped at the end', (t) => {
  const forms = ['GmbH', 'AG', 'UG', '(haftungsbeschränkt)', 'OHG', 'KG', 'e.K.', 'e.V.', 'gGmbH', 'GmbH & Co. KG', 'SE', 'Sàrl', 'SA', 'Ltd']
  for (const form of forms) t.is(normalizeCompanyName(`Alpen Gastro ${form}`), 'alpen gastro', form)
})

test('name: common spellings of the legal forms are dropped too', (t) => {
  for (const name of ['Alpen Gastro Ltd.', 'Alpen Gastro e. V.', 'Alpen Gastro e.K', 'Alpen Gastro S.à r.l.', 'Alpen Gastro S.A.', 'Alpen Gastro, GmbH', 'Alpen Gastro GmbH & Co KG', 'Alpen Gastro GmbH u. Co. KG', 'Alpen Gastro AG & Co. KG']) {
    t.is(normalizeCompanyName(name), 'alpen gastro', name)
  }
})

test('name: only ONE trailing legal form is dropped', (t) => {
  t.is(normalizeCompanyName('Holding AG GmbH'), 'holding ag')
  t.is(normalizeCompanyName('Verein e.V. e.V.'), 'verein e.v.')
  t.is(normalizeCompanyName('Kaffee KG Ltd'), 'kaffee kg')
})

test('name: a legal form inside the name or glued to a word stays', (t) => {
  t.is(normalizeCompanyName('AG Catering Süd'), 'ag catering sud')
  t.is(normalizeCompanyName('Flag'), 'flag')
  t.is(normalizeCompanyName('Kasa'), 'kasa')
  t.is(normalizeCompanyName('Große Gastro-GmbH'), 'grosse gastro-gmbh')
})

test('name: a name that is nothing but a legal form is kept whole instead of becoming empty', (t) => {
  t.is(normalizeCompanyName('GmbH'), 'gmbh')
  t.is(normalizeCompanyName(' e.V. '), 'e.v.')
  t.is(normalizeCompanyName('GmbH & Co. KG'), 'gmbh & co. kg')
})

test('§5 phone examples, verbatim', (t) => {
  t.deepEqual(normalizePhone('030 123456', 'DE'), { e164: '+4930123456' })
  t.deepEqual(normalizePhone('+49 (0)30 1234567', 'DE'), { e164: '+49301234567' })
  t.deepEqual(normalizePhone('0041 44 668 18 00', 'DE'), { e164: '+41446681800' })
  t.deepEqual(normalizePhone('0041 44 668 18 00', 'CH'), { e164: '+41446681800' })
  t.deepEqual(normalizePhone('044 668 18 00', 'CH'), { e164: '+41446681800' })
  t.deepEqual(normalizePhone('abc', 'DE'), { e164: null, warning: 'phone could not be parsed as a valid number for DE' })
})

test('phone: the lead country decides how a national number is read', (t) => {
  t.deepEqual(normalizePhone('044 668 18 00', 'DE'), { e164: '+49446681800' })
  t.deepEqual(normalizePhone('044 668 18 00', 'ch'), { e164: '+41446681800' })
  t.deepEqual(normalizePhone('01 234 56 78', 'AT'), { e164: '+4312345678' })
})

test('phone: blank is null without a warning', (t) => {
  t.deepEqual(normalizePhone(null, 'DE'), { e164: null })
  t.deepEqual(normalizePhone(undefined, 'CH'), { e164: null })
  t.deepEqual(normalizePhone('   ', 'DE'), { e164: null })
})

test('phone: possible-looking but invalid numbers give null and a warning naming the country', (t) => {
  t.deepEqual(normalizePhone('12', 'DE'), { e164: null, warning: 'phone could not be parsed as a valid number for DE' })
  t.deepEqual(normalizePhone('+41 12', 'CH'), { e164: null, warning: 'phone could not be parsed as a valid number for CH' })
})

test('phone: an unknown country still accepts international numbers and warns for national ones', (t) => {
  t.deepEqual(normalizePhone('+41 44 668 18 00', 'XX'), { e164: '+41446681800' })
  t.deepEqual(normalizePhone('030 123456', 'XX'), { e164: null, warning: 'phone could not be parsed as a valid number for XX' })
})
