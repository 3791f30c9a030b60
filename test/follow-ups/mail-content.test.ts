// Pure parts of the follow-up mail: the template syntax, the footer that every mail gets, de-CH
// spelling, and what T+3 / T+7 put into the templates.
import test from 'ava'
import { TemplateError, renderMail, renderTemplate } from '../../lib/mail-template.ts'
import { followUpMailContent, formatMoney, formatRate } from '../../models/follow-up-mail.ts'

const html = { html: true }
const text = { html: false }

test('variables are replaced; HTML bodies escape them, plain text does not', (t) => {
  const variables = { companyName: 'Müller & Söhne <GmbH>', contactName: 'O\'Neill "Chef"' }
  t.is(renderTemplate('{{companyName}} / {{ contactName }}', variables, text), 'Müller & Söhne <GmbH> / O\'Neill "Chef"')
  t.is(renderTemplate('<b>{{companyName}}</b> {{contactName}}', variables, html), '<b>Müller &amp; Söhne &lt;GmbH&gt;</b> O&#39;Neill &quot;Chef&quot;')
})

test('a {{#block}} renders only with a value, a {{^block}} only without; null and "" count as no value', (t) => {
  const template = 'Guten Tag{{#contactName}} {{contactName}}{{/contactName}}{{^contactName}} zusammen{{/contactName}},'
  t.is(renderTemplate(template, { contactName: 'Erika' }, text), 'Guten Tag Erika,')
  t.is(renderTemplate(template, { contactName: null }, text), 'Guten Tag zusammen,')
  t.is(renderTemplate(template, { contactName: '' }, text), 'Guten Tag zusammen,')
})

test('blocks nest', (t) => {
  const template = '{{#a}}A{{#b}}B{{/b}}{{^b}}-{{/b}}{{/a}}'
  t.is(renderTemplate(template, { a: 'x', b: 'y' }, text), 'AB')
  t.is(renderTemplate(template, { a: 'x', b: null }, text), 'A-')
  t.is(renderTemplate(template, { a: null, b: 'y' }, text), '')
})

test('an unknown variable or a malformed tag throws instead of reaching a customer', (t) => {
  t.throws(() => renderTemplate('Guten Tag {{contactNmae}}', { contactName: 'Erika' }, text), { instanceOf: TemplateError, message: /contactNmae/ })
  t.throws(() => renderTemplate('{{#seasonalExtra}}open block', { seasonalExtra: 'x' }, text), { instanceOf: TemplateError })
  t.throws(() => renderTemplate('Rabatt {{discountPercent %', { discountPercent: '10' }, text), { instanceOf: TemplateError })
})

test('renderMail appends the footer to both bodies, wraps the HTML in a document of the locale and keeps the subject on one line', (t) => {
  const mail = renderMail(
    { subject: 'Angebot für {{companyName}}', textBody: 'Hallo {{companyName}}\n', htmlBody: '<p>Hallo {{companyName}}</p>\n' },
    { textBody: '--\nAbmelden: {{unsubscribeUrl}}\n', htmlBody: '<a href="{{unsubscribeUrl}}">Abmelden</a>\n' },
    { companyName: 'Linde\r\nBcc: evil@example.com', unsubscribeUrl: 'https://x.example/unsubscribe/t?a=1&b=2' },
    'de-DE',
  )
  t.is(mail.subject, 'Angebot für Linde Bcc: evil@example.com')
  t.is(mail.text, 'Hallo Linde\r\nBcc: evil@example.com\n--\nAbmelden: https://x.example/unsubscribe/t?a=1&b=2\n')
  t.true(mail.html.startsWith('<!DOCTYPE html>\n<html lang="de-DE">'))
  t.true(mail.html.includes('<a href="https://x.example/unsubscribe/t?a=1&amp;b=2">Abmelden</a>'))
})

test('a de-CH mail has no ß, also where a value (a product label) brings one', (t) => {
  const template = { subject: '{{businessExtra}}', textBody: '{{businessExtra}}', htmlBody: '{{businessExtra}}' }
  const footer = { textBody: '', htmlBody: '' }
  const ch = renderMail(template, footer, { businessExtra: 'Großküchen-Menükomponenten' }, 'de-CH')
  t.is(ch.subject, 'Grossküchen-Menükomponenten')
  t.is(ch.text, 'Grossküchen-Menükomponenten')
  const de = renderMail(template, footer, { businessExtra: 'Großküchen-Menükomponenten' }, 'de-DE')
  t.is(de.text, 'Großküchen-Menükomponenten')
})

test('money in the territory\'s currency and locale, cents only when there are any', (t) => {
  t.regex(formatMoney(1000, 'CHF', 'de-CH'), /^CHF\s1['’]000$/)
  t.regex(formatMoney(500, 'EUR', 'de-DE'), /^500\s€$/)
  t.regex(formatMoney(2000, 'EUR', 'de-DE'), /^2\.000\s€$/)
  t.regex(formatMoney(249.5, 'EUR', 'de-DE'), /^249,50\s€$/)
  t.is(formatRate('19.00', 'de-DE'), '19')
  t.is(formatRate('8.10', 'de-CH'), '8.1')
})

const de = { currency: 'EUR', locale: 'de-DE', vatRate: '19.00', timeZone: 'Europe/Berlin' }
const ch = { currency: 'CHF', locale: 'de-CH', vatRate: '8.10', timeZone: 'Europe/Zurich' }

test('T+3 content: starter box, the business type\'s extra and the season of the sending day', (t) => {
  const lead = { companyName: 'Linde', contactName: null, businessType: 'RESTAURANT' as const }
  const october = followUpMailContent({ kind: 'T3', lead, territory: de, at: new Date('2031-10-06T08:00:00Z'), unsubscribeUrl: 'u' })
  t.is(october.templateKey, 'SAMPLE_REQUEST')
  t.like(october.variables, { starterBox: 'Cook&Fresh® Starter-Box', businessExtra: 'Feinkost-Saucen-Set', contactName: null, vatRate: '19', unsubscribeUrl: 'u' })
  t.regex(october.variables.seasonalExtra ?? '', /Oktoberfest/)
  t.like(october.offer, { kind: 'T3', businessExtra: { key: 'FEINKOST_SAUCEN' }, seasonalExtra: { key: 'OKTOBERFEST' } })
  const july = followUpMailContent({ kind: 'T3', lead, territory: de, at: new Date('2031-07-07T08:00:00Z'), unsubscribeUrl: 'u' })
  t.is(july.variables.seasonalExtra, null)
  t.like(july.offer, { seasonalExtra: null })
})

test('T+7 content: discount and minimum order by business type, in the territory\'s currency', (t) => {
  const hotel = followUpMailContent({ kind: 'T7', lead: { companyName: 'Alpenblick', contactName: 'Urs', businessType: 'HOTEL' }, territory: ch, at: new Date('2031-03-12T09:00:00Z'), unsubscribeUrl: 'u' })
  t.is(hotel.templateKey, 'FOLLOW_UP')
  t.is(hotel.variables.discountPercent, '20')
  t.regex(hotel.variables.minimumOrder ?? '', /^CHF\s1['’]000$/)
  t.deepEqual(hotel.offer, { kind: 'T7', discountPercent: 20, minimumOrder: 1000, currency: 'CHF' })
  const unknown = followUpMailContent({ kind: 'T7', lead: { companyName: 'X', contactName: null, businessType: null }, territory: de, at: new Date('2031-03-12T09:00:00Z'), unsubscribeUrl: 'u' })
  t.deepEqual(unknown.offer, { kind: 'T7', discountPercent: 10, minimumOrder: 250, currency: 'EUR' })
})

test('values are substituted, never parsed (issue 14, 8): template syntax inside a value is text', (t) => {
  const variables = { companyName: 'Cafe {{contactName}}', contactName: '{{#a}}x{{/a}} {{' }
  t.is(renderTemplate('{{companyName}} / {{contactName}}', variables, text), 'Cafe {{contactName}} / {{#a}}x{{/a}} {{')
  t.is(renderTemplate('{{#companyName}}<b>{{companyName}}</b>{{/companyName}}', variables, html), '<b>Cafe {{contactName}}</b>')
})

test('only the logic-less tags: partials, unescaped values, delimiter changes and dotted names throw', (t) => {
  const variables = { companyName: '<b>x</b>' }
  for (const template of ['{{> footer}}', '{{{companyName}}}', '{{& companyName}}', '{{=<% %>=}}', '{{companyName.length}}', '{{#companyName}}x{{/other}}']) {
    t.throws(() => renderTemplate(template, variables, html), { instanceOf: TemplateError }, template)
  }
  t.is(renderTemplate('a{{! a comment }}b', variables, html), 'ab')
})
