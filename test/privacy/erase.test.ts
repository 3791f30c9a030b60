// §13 acceptance: the export before erasure holds every activity, history row, event and mail of
// the lead; after `erase` a pg_dump of the whole database (pgboss included) contains none of its
// old e-mail, contact name, phone or street, while its id, status and dates remain.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import test from 'ava'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { centralEuropean, makeDueNow, settled, waitUntil } from '../follow-ups/support.ts'

const run = promisify(execFile)
const DAY = 24 * 60 * 60 * 1000
const registeredAt = centralEuropean('2031-03-05T10:00:00', 1)
const clock = new ManualClock(registeredAt)
let smtp: TestSmtpServer
let stack: Stack
let api: Api

test.before(async () => {
  smtp = await startSmtpServer()
  stack = await startStack({ worker: true, clock, env: { SMTP_URL: smtp.url } })
  api = apiClient(stack.baseUrl)
})
test.after.always(async () => {
  await stack?.stop()
  await smtp?.stop()
})

async function dump(): Promise<string> {
  const { stdout } = await run('pg_dump', ['--no-owner', '--dbname', stack.db.ownerUrl], { maxBuffer: 512 * 1024 * 1024 })
  return stdout
}

const personal = {
  contactName: 'Wilhelmine Zwetschgenbaum',
  email: 'w.zwetschgenbaum@gasthof-erase.example',
  phone: '+49 89 4711 0815',
  street: 'Holunderweg 17',
}
const laterPhone = '+49 89 9988 7766'

test.serial('export before erasure is complete; after erase the whole database dump holds no trace of the personal data', async (t) => {
  const sales = await tokenFor({ user: 'sales-1', role: 'SALES' })
  const manager = await tokenFor({ user: 'manager-1', role: 'MANAGER' })
  const created = await api('POST', '/api/leads', {
    token: sales,
    headers: { 'Idempotency-Key': 'create-erase-lead' },
    body: { companyName: 'Gasthof Zwetschge', ...personal, notes: `Rückruf bei ${personal.contactName}`, emailConsent: true, businessType: 'RESTAURANT', city: 'München', postalCode: '80331' },
  })
  t.is(created.status, 201, JSON.stringify(created.body))
  const id = created.body.id as string
  // A changed phone: the old one lives on in history and events only.
  const patched = await api('PATCH', `/api/leads/${id}`, { token: sales, headers: { 'If-Match': created.headers.get('etag')!, 'content-type': 'application/merge-patch+json' }, body: { phone: laterPhone } })
  t.is(patched.status, 200, JSON.stringify(patched.body))
  t.is((await api('POST', `/api/leads/${id}/activities`, { token: sales, body: { type: 'CALL', summary: `Telefonat mit ${personal.contactName} unter ${laterPhone}`, metadata: { spokeTo: personal.contactName } } })).status, 201)
  // A merge: its before-image holds the lead.
  const duplicate = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Gasthof Zwetschge (alt)', email: 'alt@andere-adresse.example' } })
  const current = await api('GET', `/api/leads/${id}`, { token: manager })
  const merged = await api('POST', `/api/leads/${id}/merge`, { token: manager, headers: { 'If-Match': current.headers.get('etag')! }, body: { mergeIds: [duplicate.body.id] } })
  t.is(merged.status, 200, JSON.stringify(merged.body))
  // A follow-up mail over SMTP: body and recipient in the outbox.
  clock.set(new Date(registeredAt.getTime() + 3 * DAY))
  await makeDueNow(stack.owner, 'follow-up.t3', `${id}:T3`)
  await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
  await waitUntil('the T+3 mail', () => smtp.to(personal.email).length > 0)
  await waitUntil('the mail marked sent', async () => (await stack.owner('email_outbox').where({ lead_id: id, status: 'SENT' })).length === 1)

  const before = await dump()
  for (const value of [personal.email, personal.contactName, personal.phone, personal.street, laterPhone]) t.true(before.includes(value), `the dump holds ${value} before`)

  t.is((await api('GET', `/api/leads/${id}/export`, { token: sales })).status, 403, 'export is for managers and admins')
  const exported = await api('GET', `/api/leads/${id}/export`, { token: manager })
  t.is(exported.status, 200)
  const doc = exported.body
  t.is(doc.lead.id, id)
  const ids = async (sql: string) => (await stack.owner.raw(sql, [id])).rows.map((r: { id: unknown }) => String(r.id)).sort()
  t.deepEqual(doc.activities.map((a: { id: string }) => a.id).sort(), await ids('select id from lead_activities where lead_id = ?'))
  t.deepEqual(doc.history.map((h: { id: string }) => h.id).sort(), await ids('select id from lead_history where lead_id = ?'))
  t.deepEqual(doc.events.map((e: { id: string }) => e.id).sort(), await ids('select id from lead_events where lead_id = ?'))
  t.deepEqual(doc.mails.map((m: { id: string }) => m.id).sort(), await ids('select id from email_outbox where lead_id = ?'))
  t.true(doc.activities.length >= 4 && doc.history.length >= 3 && doc.events.length >= 4 && doc.mails.length === 1)
  t.is(doc.mails[0].recipient, personal.email)

  const leadBefore = await stack.owner('leads').where('id', id).first()
  t.is((await api('POST', `/api/leads/${id}/erase`, { token: manager, body: { reason: 'kurz' } })).status, 400, 'reason of 10–500 characters')
  t.is((await api('POST', `/api/leads/${id}/erase`, { token: sales, body: { reason: 'Löschbegehren nach Art. 17 DSGVO' } })).status, 403)
  const erased = await api('POST', `/api/leads/${id}/erase`, { token: manager, body: { reason: 'Löschbegehren nach Art. 17 DSGVO' } })
  t.is(erased.status, 204, JSON.stringify(erased.body))

  const after = await dump()
  for (const value of [personal.email, personal.contactName, personal.phone, personal.street, laterPhone, 'Zwetschgenbaum', 'gasthof-erase.example']) {
    const lines = after.split('\n').filter((line) => line.includes(value))
    t.deepEqual(lines.map((line) => line.slice(0, 300)), [], `the dump still holds ${value}`)
  }
  t.true(after.includes(id))
  const lead = await stack.owner('leads').where('id', id).first()
  t.like(lead, { id, status: leadBefore.status, territory: 'DE', company_name: `GELÖSCHT-${id}`, email: null, contact_name: null, phone: null, street: null, notes: null, email_normalized: null, phone_e164: null, name_normalized: null })
  t.is(lead.registered_at.toISOString(), leadBefore.registered_at.toISOString())
  t.is(lead.created_at.toISOString(), leadBefore.created_at.toISOString())
  const history = await stack.owner('lead_history').where({ lead_id: id, action: 'ERASED' })
  t.is(history.length, 1)
  t.is(history[0].changes.reason.to, 'Löschbegehren nach Art. 17 DSGVO')
  t.regex(history[0].changes.emailSha256.to, /^[0-9a-f]{64}$/)
  const event = await stack.owner('lead_events').where({ lead_id: id, type: 'freshplan.lead.erased' }).first()
  t.deepEqual(Object.keys(event.data).sort(), ['erasedAt', 'leadId', 'status', 'territory'])
  // Erasing again: nothing left to do, no second entry or event.
  t.is((await api('POST', `/api/leads/${id}/erase`, { token: manager, body: { reason: 'Löschbegehren nach Art. 17 DSGVO' } })).status, 204)
  t.is((await stack.owner('lead_history').where({ lead_id: id, action: 'ERASED' })).length, 1)
  t.is((await stack.owner('lead_events').where({ lead_id: id, type: 'freshplan.lead.erased' })).length, 1)
})
