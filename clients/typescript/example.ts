// An example consumer of the typed client: creates a lead, then lists the newest leads.
//   TOKEN=$(npm run -s token -- --user u1 --role SALES --territory DE) node clients/typescript/example.ts
// BASE_URL defaults to http://localhost:3000 (npm start). No casts: every type comes from the client.
import { randomUUID } from 'node:crypto'
import { createLeadsClient, type Lead, type LeadCreate, type Problem } from '@freshplan/leads-client'

const token = process.env.TOKEN
if (!token) {
  console.error('Set TOKEN, e.g. TOKEN=$(npm run -s token -- --user u1 --role SALES --territory DE)')
  process.exit(2)
}
const client = createLeadsClient({ baseUrl: process.env.BASE_URL ?? 'http://localhost:3000', token })

function fail(action: string, problem: Problem): never {
  console.error(`${action} failed: ${problem.status} ${problem.title}${problem.detail ? ` (${problem.detail})` : ''}`)
  for (const error of problem.errors ?? []) console.error(`  ${error.pointer}: ${error.message}`)
  if (problem.existingLeadId) console.error(`  the existing lead: ${problem.existingLeadId}`)
  process.exit(1)
}

const input: LeadCreate = {
  companyName: 'Gasthaus Zur Linde',
  contactName: 'Erika Muster',
  email: `linde-${randomUUID().slice(0, 8)}@example.com`,
  businessType: 'RESTAURANT',
  emailConsent: true,
}
// An Idempotency-Key makes a retry of this request safe (§4).
const created = await client.POST('/api/leads', { body: input, headers: { 'Idempotency-Key': randomUUID() } })
if (created.error) fail('create', created.error)
const lead: Lead = created.data
console.log(`created ${lead.id}: ${lead.companyName} (${lead.territory}, ${lead.status}), version ${lead.version}, ETag ${created.response.headers.get('ETag')}`)

const page = await client.GET('/api/leads', { params: { query: { limit: 5, sort: '-createdAt', includeTotal: true } } })
if (page.error) fail('list', page.error)
console.log(`the newest ${page.data.data.length} of ${page.data.total ?? '?'} leads:`)
for (const each of page.data.data) console.log(`  ${each.id}  ${each.status.padEnd(10)}  ${each.companyName}${each.followUp.t3SentAt ? '  (T+3 sent)' : ''}`)
