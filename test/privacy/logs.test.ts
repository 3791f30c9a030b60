// §13: no personal data at info level anywhere. Real `web` and `worker` processes at LOG_LEVEL=info,
// without SMTP_URL (the development path that "sends" mails to the log): a create, a follow-up, its
// mail and an unsubscribe; their whole output must not contain the e-mail, name, phone or street.
import test from 'ava'
import knexFactory from 'knex'
import { createTestDatabase } from '../helpers/database.ts'
import { freePort, spawnService, waitUntilReady } from '../helpers/processes.ts'
import { apiClient, tokenFor } from '../helpers/api.ts'
import { makeDueNow, waitUntil } from '../follow-ups/support.ts'

const personal = { contactName: 'Kunigunde Birnbaumer', email: 'k.birnbaumer@logtest.example', phone: '+49 30 5551 2345', street: 'Quittenallee 3' }

test('create + follow-up + mail + unsubscribe log nothing personal at info level', async (t) => {
  t.timeout(120_000)
  const db = await createTestDatabase()
  const port = await freePort()
  const env = { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, WORKER_DATABASE_URL: db.workerUrl, LOG_LEVEL: 'info' }
  const web = spawnService('server/web.ts', { ...env, PORT: String(port) })
  const worker = spawnService('jobs/worker.ts', env)
  const owner = knexFactory({ client: 'pg', connection: db.ownerUrl, pool: { min: 0, max: 2 } })
  try {
    await waitUntilReady(port, web)
    const api = apiClient(`http://127.0.0.1:${port}`)
    const token = await tokenFor({ user: 'sales-1', role: 'SALES' })
    const created = await api('POST', '/api/leads', { token, body: { companyName: 'Birnbaumer KG', ...personal, emailConsent: true, notes: `Ansprechpartnerin ${personal.contactName}` } })
    t.is(created.status, 201, JSON.stringify(created.body))
    const id = created.body.id as string
    await waitUntil('the follow-up jobs', async () => (await owner('pgboss.job').where({ name: 'follow-up.t3', singleton_key: `${id}:T3` })).length === 1)
    await makeDueNow(owner, 'follow-up.t3', `${id}:T3`)
    await waitUntil('the mail "sent" to the log', async () => (await owner('email_outbox').where({ lead_id: id, status: 'SENT' })).length === 1, 60_000)
    const mail = await owner('email_outbox').where({ lead_id: id }).first()
    t.is(mail.recipient, personal.email)
    const unsubscribe = await fetch(`http://127.0.0.1:${port}/unsubscribe/${mail.unsubscribe_token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' })
    t.is(unsubscribe.status, 200)
    await waitUntil('the mail log line', () => worker.output().includes('SMTP_URL not set'))
    await waitUntil('the request log lines', () => (web.output().match(/"msg":"request"/g) ?? []).length >= 2)
  } finally {
    web.child.kill('SIGTERM')
    worker.child.kill('SIGTERM')
    await Promise.all([web.exited, worker.exited])
    await owner.destroy()
    await db.drop()
  }
  const output = web.output() + worker.output()
  t.regex(output, /"level":30/, 'info lines were written')
  for (const value of [...Object.values(personal), 'Birnbaumer', 'logtest.example']) t.false(output.includes(value), `the logs contain ${value}`)
})
