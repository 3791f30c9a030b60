// Shared set-up of the §10 protection tests: the API and the workers on one injectable clock, a real
// SMTP receiver, the tenant's mail recipients, and helpers that run a lead's delayed job at its time.
import type { Knex } from '../../lib/db.ts'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { PROTECTION_QUEUE_OF } from '../../lib/queues.ts'
import { forgetProtectionSettings } from '../../models/lead-protection.ts'
import type { ProtectionKind } from '../../models/protection-rules.ts'
import { waitFor } from '../helpers/wait.ts'

export const OWNER_MAIL = 'sales-1@freshfoodz.example'
export const MANAGER_MAILS = { DE: ['leitung-de@freshfoodz.example', 'vertrieb-de@freshfoodz.example'], CH: ['leitung-ch@freshfoodz.example'] }

export interface ProtectionStack {
  stack: Stack
  smtp: TestSmtpServer
  api: Api
  clock: ManualClock
  tokens: { sales: string; otherSales: string; manager: string }
}

export async function startProtectionStack(start: Date): Promise<ProtectionStack> {
  const clock = new ManualClock(start)
  const smtp = await startSmtpServer()
  const stack = await startStack({ worker: true, clock, env: { SMTP_URL: smtp.url } })
  await stack.owner('lead_protection_settings').insert({ tenant_id: 'default', manager_emails: JSON.stringify(MANAGER_MAILS) })
  await stack.owner('user_mail_addresses').insert({ tenant_id: 'default', user_id: 'sales-1', email: OWNER_MAIL })
  forgetProtectionSettings()
  return {
    stack, smtp, clock, api: apiClient(stack.baseUrl),
    tokens: {
      sales: await tokenFor({ user: 'sales-1', role: 'SALES', territories: ['DE', 'CH'] }),
      otherSales: await tokenFor({ user: 'sales-2', role: 'SALES', territories: ['DE', 'CH'] }),
      manager: await tokenFor({ user: 'manager-1', role: 'MANAGER', territories: ['DE', 'CH'] }),
    },
  }
}

export async function stopProtectionStack(service: Partial<ProtectionStack>): Promise<void> {
  await service.stack?.stop()
  await service.smtp?.stop()
}

export interface JobRow { id: string; state: string; start_after: Date; output: any; data: any }

export async function protectionJobs(owner: Knex, leadId: string, kind: ProtectionKind): Promise<JobRow[]> {
  return owner('pgboss.job').where({ name: PROTECTION_QUEUE_OF[kind], singleton_key: `${leadId}:${kind}` }).orderBy('created_on').select('id', 'state', 'start_after', 'output', 'data')
}

export async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  if (!(await waitFor(predicate, ms))) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/**
 * Time travel to a waiting job's due time: the clock moves there and the job becomes due in
 * PostgreSQL's time; then waits until pg-boss finished it. Returns the job as it ended.
 */
export async function runWaitingJob(service: ProtectionStack, leadId: string, kind: ProtectionKind): Promise<JobRow> {
  const { owner } = service.stack
  const waiting = (await protectionJobs(owner, leadId, kind)).filter((job) => job.state === 'created')
  if (waiting.length !== 1) throw new Error(`expected one waiting ${kind} job for ${leadId}, found ${waiting.length}`)
  const job = waiting[0]!
  service.clock.set(job.start_after)
  await owner('pgboss.job').where({ id: job.id }).update({ start_after: owner.raw('now()') })
  await waitUntil(`${kind} job of ${leadId} to finish`, async () => ['completed', 'failed'].includes((await owner('pgboss.job').where({ id: job.id }).first('state')).state))
  return (await owner('pgboss.job').where({ id: job.id }).first('id', 'state', 'start_after', 'output', 'data')) as JobRow
}

/** Sends a job of `kind` for the lead now (what a duplicate or a late delivery looks like) and waits for it. */
export async function runExtraJob(service: ProtectionStack, leadId: string, kind: ProtectionKind): Promise<JobRow> {
  const { owner, deps } = service.stack
  const id = await deps.boss.send(PROTECTION_QUEUE_OF[kind], { leadId, tenantId: 'default', territory: 'DE', dueAt: service.clock.now().toISOString() }, { singletonKey: `${leadId}:${kind}` })
  if (id === null) throw new Error(`a ${kind} job for ${leadId} is waiting already`)
  await waitUntil(`extra ${kind} job of ${leadId}`, async () => ['completed', 'failed'].includes((await owner('pgboss.job').where({ id }).first('state')).state))
  return (await owner('pgboss.job').where({ id }).first('id', 'state', 'start_after', 'output', 'data')) as JobRow
}

export async function leadRow(owner: Knex, id: string): Promise<any> {
  return owner('leads').where({ id }).first()
}

export async function activityTypes(owner: Knex, id: string): Promise<string[]> {
  return (await owner('lead_activities').where({ lead_id: id }).orderBy('created_at').orderBy('id').select('type')).map((row: { type: string }) => row.type)
}

export async function activitiesOf(owner: Knex, id: string, type: string): Promise<any[]> {
  return owner('lead_activities').where({ lead_id: id, type }).orderBy('created_at')
}

export async function eventsOf(owner: Knex, id: string): Promise<{ type: string; data: any; owner_user_id: string | null }[]> {
  return owner('lead_events').where({ lead_id: id }).orderBy('time').orderBy('id').select('type', 'data', 'owner_user_id')
}

export async function outboxOf(owner: Knex, id: string): Promise<any[]> {
  return owner('email_outbox').where({ lead_id: id }).orderBy('created_at').orderBy('recipient')
}
