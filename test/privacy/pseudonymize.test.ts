// §13: the scheduled pseudonymization, on the injectable clock: an EXPIRED lead untouched for 60
// days loses its e-mail (→ SHA-256), phone and contact name, also in its history; a younger one keeps them.
import { createHash } from 'node:crypto'
import test from 'ava'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'
import { insertLead, leadRow } from '../follow-ups/support.ts'
import { pseudonymizeExpiredLeads } from '../../jobs/privacy.ts'

const DAY = 24 * 60 * 60 * 1000
const now = new Date('2031-09-01T03:00:00Z')
const clock = new ManualClock(now)
let stack: Stack

test.before(async () => {
  stack = await startStack({ web: false, clock })
})
test.after.always(() => stack?.stop())

async function expiredLead(email: string, untouchedDays: number, status = 'EXPIRED'): Promise<string> {
  const id = await insertLead(stack.owner, { registeredAt: new Date(now.getTime() - 200 * DAY), email, contactName: 'Theodor Quittenbaum', status })
  await stack.owner('leads').where('id', id).update({ phone: '+41 44 123 45 67', phone_e164: '+41441234567', email_normalized: email, updated_at: new Date(now.getTime() - untouchedDays * DAY) })
  return id
}

test('EXPIRED and untouched for 60 days: e-mail → SHA-256, phone and contact name gone; younger or not EXPIRED: kept', async (t) => {
  const old = await expiredLead('alt@quitte.example', 61)
  const young = await expiredLead('jung@quitte.example', 59)
  const lost = await expiredLead('lost@quitte.example', 90, 'LOST')

  t.is(await pseudonymizeExpiredLeads(stack.deps), 1)
  const lead = await leadRow(stack.owner, old)
  t.is(lead.email, createHash('sha256').update('alt@quitte.example').digest('hex'))
  t.like(lead, { phone: null, contact_name: null, email_normalized: null, phone_e164: null, status: 'EXPIRED', company_name: 'Gasthaus Zur Linde' })
  const history = JSON.stringify(await stack.owner('lead_history').where('lead_id', old))
  for (const value of ['alt@quitte.example', 'Quittenbaum', '+41 44 123 45 67', '+41441234567']) t.false(history.includes(value), `history still holds ${value}`)
  t.is((await stack.owner('lead_history').where({ lead_id: old, action: 'PSEUDONYMIZED' })).length, 1)

  for (const id of [young, lost]) t.like(await leadRow(stack.owner, id), { contact_name: 'Theodor Quittenbaum', phone: '+41 44 123 45 67' })
  t.is((await leadRow(stack.owner, young)).email, 'jung@quitte.example')

  // The next day the younger one is due; the first is not done twice.
  clock.set(new Date(now.getTime() + 2 * DAY))
  t.is(await pseudonymizeExpiredLeads(stack.deps), 1)
  t.is((await leadRow(stack.owner, young)).contact_name, null)
  t.is((await stack.owner('lead_history').where({ lead_id: old, action: 'PSEUDONYMIZED' })).length, 1)
})

test('the application role cannot run the trace erasure as SYSTEM (V0008: it cannot claim SYSTEM)', async (t) => {
  const id = await expiredLead('app@quitte.example', 70)
  await stack.owner('leads').where('id', id).update({ contact_name: null, phone: null, phone_e164: null, email_normalized: null })
  const error = await t.throwsAsync(stack.webDeps.knex.transaction(async (trx) => {
    await trx.raw(`select set_config('app.tenant_id', 'default', true), set_config('app.role', 'SYSTEM', true), set_config('app.territories', 'DE,CH', true)`)
    await trx.raw(`select erase_lead_traces(?, 'PSEUDONYMIZED', 'x', null)`, [id])
  }))
  t.regex(error!.message, /only the system pseudonymizes/)
})
