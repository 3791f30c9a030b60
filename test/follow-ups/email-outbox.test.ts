// The e-mail tables of V0004 under the application role: seeded templates, row-level security of
// the outbox, immutable rendered mails, a tenant's own templates, the sweep's read-only view of
// all tenants, and delivery to the log when there is no SMTP_URL (development).
import test from 'ava'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { inTransaction, systemContext, type SecurityContext } from '../../lib/db.ts'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'
import { deliverOutboxMail } from '../../jobs/email.ts'
import { runFollowUp } from '../../models/follow-ups.ts'
import { insertLead, outboxOf } from './support.ts'

let stack: Stack
const clock = new ManualClock('2031-06-12T08:00:00.000Z')
const registeredAt = new Date('2031-06-02T08:00:00.000Z')
const manager = (territories: ('DE' | 'CH')[], tenantId = 'default'): SecurityContext => ({ tenantId, userId: 'm1', role: 'MANAGER', territories })
const sales: SecurityContext = { tenantId: 'default', userId: 'sales-1', role: 'SALES', territories: ['DE', 'CH'] }
let deOutboxId: string
let chOutboxId: string

test.before(async () => {
  // No worker: the mails stay QUEUED for the tests to look at; no SMTP_URL: development mode.
  stack = await startStack({ web: false, clock })
  const de = await insertLead(stack.owner, { registeredAt, territory: 'DE' })
  const ch = await insertLead(stack.owner, { registeredAt, territory: 'CH', businessType: 'KANTINE', companyName: 'Personalrestaurant Bahnhof' })
  for (const leadId of [de, ch]) await runFollowUp(stack.deps, 'T3', { leadId, tenantId: 'default' })
  deOutboxId = (await outboxOf(stack.owner, de))[0].id
  chOutboxId = (await outboxOf(stack.owner, ch))[0].id
})
test.after.always(() => stack?.stop())

test.serial('templates are seeded for DE and CH; the CH ones are written without ß; every footer has the unsubscribe link', async (t) => {
  const rows = await stack.owner('email_templates').orderBy(['territory', 'template_key']).select()
  // Sorted here: the database's collation orders the lower-case §10 keys differently from plain code points.
  t.deepEqual(rows.map((r) => `${r.tenant_id}/${r.territory}/${r.template_key}/${r.locale}`).sort(), [
    'default/CH/FOLLOW_UP/de-CH', 'default/CH/FOOTER/de-CH', 'default/CH/SAMPLE_REQUEST/de-CH',
    'default/CH/lead_progress_warning/de-CH', 'default/CH/lead_protection_expired/de-CH',
    'default/DE/FOLLOW_UP/de-DE', 'default/DE/FOOTER/de-DE', 'default/DE/SAMPLE_REQUEST/de-DE',
    'default/DE/lead_progress_warning/de-DE', 'default/DE/lead_protection_expired/de-DE',
  ])
  for (const row of rows.filter((r) => r.territory === 'CH')) t.false(/ß/.test(`${row.subject} ${row.text_body} ${row.html_body}`), row.template_key)
  t.true(rows.filter((r) => r.territory === 'DE').some((r) => /ß/.test(r.text_body)), 'DE keeps its ß')
  for (const footer of rows.filter((r) => r.template_key === 'FOOTER')) {
    t.true(footer.text_body.includes('{{unsubscribeUrl}}') && footer.html_body.includes('href="{{unsubscribeUrl}}"'))
  }
})

test.serial('a CH mail is rendered without ß even where the product label has one', async (t) => {
  const row = await stack.owner('email_outbox').where('id', chOutboxId).first()
  t.true(row.text_body.includes('Grossküchen-Menükomponenten'))
  t.false(/ß/.test(row.subject + row.text_body + row.html_body))
})

test.serial('the outbox is visible to MANAGER of the territory only: not to SALES, not to another territory or tenant', async (t) => {
  const visible = (ctx: SecurityContext) => inTransaction(stack.deps.knex, ctx, async (tx) => (await tx.trx('email_outbox').orderBy('territory').select('id')).map((r) => r.id))
  t.deepEqual(await visible(manager(['DE', 'CH'])), [chOutboxId, deOutboxId])
  t.deepEqual(await visible(manager(['DE'])), [deOutboxId])
  t.deepEqual(await visible(manager(['DE', 'CH'], 'acme')), [])
  t.deepEqual(await visible(sales), [])
})

test.serial('only SYSTEM writes mails; the rendered mail cannot be changed, and nobody deletes it', async (t) => {
  const leadId = (await stack.owner('email_outbox').where('id', deOutboxId).first('lead_id')).lead_id
  const row = { lead_id: leadId, territory: 'DE', template_key: 'SAMPLE_REQUEST', dedupe_key: 'manual', recipient: 'x@y.example', subject: 's', text_body: 't', html_body: 'h', unsubscribe_token: '00000000-0000-4000-8000-000000000000' }
  await t.throwsAsync(inTransaction(stack.deps.knex, manager(['DE']), (tx) => tx.trx('email_outbox').insert(row)), { message: /row-level security/ })
  await t.throwsAsync(inTransaction(stack.deps.knex, systemContext('default'), (tx) => tx.trx('email_outbox').where('id', deOutboxId).update({ subject: 'changed' })), { message: /permission denied/ })
  await t.throwsAsync(inTransaction(stack.deps.knex, systemContext('default'), (tx) => tx.trx('email_outbox').where('id', deOutboxId).delete()), { message: /permission denied/ })
  const updated = await inTransaction(stack.deps.knex, manager(['DE']), (tx) => tx.trx('email_outbox').where('id', deOutboxId).update({ status: 'FAILED' }))
  t.is(updated, 0, 'MANAGER may read, not change, delivery state')
  t.like(await stack.owner('email_outbox').where('id', deOutboxId).first(), { subject: 'Ihre kostenlose Cook&Fresh® Starter-Box für Gasthaus Zur Linde', status: 'QUEUED' })
})

test.serial('templates are read-only for the application role; a tenant\'s own template wins over the default one', async (t) => {
  await t.throwsAsync(inTransaction(stack.deps.knex, systemContext('default'), (tx) => tx.trx('email_templates').update({ subject: 'x' })), { message: /permission denied/ })
  await stack.owner('email_templates').insert({ tenant_id: 'acme', territory: 'DE', template_key: 'SAMPLE_REQUEST', locale: 'de-DE', subject: 'Acme-Probierbox für {{companyName}}', text_body: 'Hallo {{companyName}}\n', html_body: '<p>Hallo {{companyName}}</p>' })
  const leadId = await insertLead(stack.owner, { registeredAt, tenantId: 'acme', companyName: 'Acme Kantine' })
  t.like(await runFollowUp(stack.deps, 'T3', { leadId, tenantId: 'acme' }), { outcome: 'sent', email: 'QUEUED' })
  const [mail] = await outboxOf(stack.owner, leadId)
  t.is(mail.subject, 'Acme-Probierbox für Acme Kantine')
  t.true(mail.text_body.startsWith('Hallo Acme Kantine\n\n--\nFreshFoodz GmbH'), 'with the default DE footer')
  t.is(mail.tenant_id, 'acme')
})

test.serial('the sweep\'s context (SYSTEM, tenant *) reads leads of every tenant but changes none; no other role gets that view', async (t) => {
  await insertLead(stack.owner, { registeredAt, tenantId: 'other' })
  const all = systemContext('*')
  const tenants = await inTransaction(stack.deps.knex, all, async (tx) => (await tx.trx('leads').distinct('tenant_id').orderBy('tenant_id')).map((r) => r.tenant_id))
  t.deepEqual(tenants, ['acme', 'default', 'other'])
  t.is(await inTransaction(stack.deps.knex, all, (tx) => tx.trx('leads').update({ notes: 'x' })), 0)
  const admin: SecurityContext = { tenantId: '*', userId: 'a1', role: 'ADMIN', territories: ['DE', 'CH'] }
  t.deepEqual(await inTransaction(stack.deps.knex, admin, (tx) => tx.trx('leads').select('id')), [])
})

test.serial('without SMTP_URL (development) the mail is written to the log (content at debug only, §13) and marked SENT', async (t) => {
  const lines: any[] = []
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _encoding, done) => void (lines.push(JSON.parse(String(chunk))), done()) }))
  t.is(stack.config.smtpUrl, undefined)
  const result = await deliverOutboxMail({ ...stack.deps, logger }, { data: { outboxId: deOutboxId, tenantId: 'default' }, retryCount: 0 })
  t.is(result.outcome, 'logged')
  const mine = lines.filter((line) => line.outboxId === deOutboxId)
  t.deepEqual(mine.find((line) => line.level === 30), { level: 30, time: mine[0].time, pid: mine[0].pid, hostname: mine[0].hostname, outboxId: deOutboxId, msg: 'e-mail (SMTP_URL not set, not sent; LOG_LEVEL=debug shows it)' })
  const logged = mine.find((line) => line.level === 20)
  t.like(logged, { msg: 'e-mail content (SMTP_URL not set)', subject: 'Ihre kostenlose Cook&Fresh® Starter-Box für Gasthaus Zur Linde' })
  t.true(logged.text.includes('Cook&Fresh® Starter-Box'))
  t.like(await stack.owner('email_outbox').where('id', deOutboxId).first(), { status: 'SENT', attempts: 1 })
  t.like(await deliverOutboxMail({ ...stack.deps, logger }, { data: { outboxId: deOutboxId, tenantId: 'default' }, retryCount: 0 }), { outcome: 'already-sent' })
})
