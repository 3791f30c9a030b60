// Shared set-up of the follow-up tests: leads written directly as the owner (the tests are about
// the jobs, not the API), and the owner's view of what the jobs did.
import { randomUUID } from 'node:crypto'
import type { Knex } from '../../lib/db.ts'
import type { Clock } from '../../lib/clock.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts'
import { waitFor } from '../helpers/wait.ts'

export interface MailStack {
  stack: Stack
  smtp: TestSmtpServer
}

/** The service with workers on `clock`, delivering to a real SMTP server of its own. */
export async function startMailStack(options: { clock: Clock; env?: Record<string, string>; smtp?: Parameters<typeof startSmtpServer>[0] }): Promise<MailStack> {
  const smtp = await startSmtpServer(options.smtp)
  const stack = await startStack({ web: false, worker: true, clock: options.clock, env: { SMTP_URL: smtp.url, ...options.env } })
  return { stack, smtp }
}

export async function stopMailStack(service: Partial<MailStack>): Promise<void> {
  await service.stack?.stop()
  await service.smtp?.stop()
}

export interface TestLead {
  id?: string
  tenantId?: string
  territory?: 'DE' | 'CH'
  companyName?: string
  contactName?: string | null
  email?: string | null
  emailConsent?: boolean
  businessType?: string | null
  status?: string
  /** A string keeps PostgreSQL's microseconds, as a bulk import with now() has them. */
  registeredAt: Date | string
  t3SentAt?: Date | null
  t7SentAt?: Date | null
}

export async function insertLead(owner: Knex, lead: TestLead): Promise<string> {
  const id = lead.id ?? randomUUID()
  const status = lead.status ?? 'REGISTERED'
  await owner('leads').insert({
    id,
    tenant_id: lead.tenantId ?? 'default',
    territory: lead.territory ?? 'DE',
    country_code: lead.territory ?? 'DE',
    company_name: lead.companyName ?? 'Gasthaus Zur Linde',
    contact_name: lead.contactName === undefined ? 'Erika Muster' : lead.contactName,
    email: lead.email === undefined ? `${id}@kunde.example` : lead.email,
    email_consent: lead.emailConsent ?? true,
    business_type: lead.businessType === undefined ? 'RESTAURANT' : lead.businessType,
    status,
    deleted_at: status === 'DELETED' ? lead.registeredAt : null,
    stage: 'VORMERKUNG',
    owner_user_id: 'sales-1',
    created_by: 'sales-1',
    registered_at: lead.registeredAt,
    t3_sent_at: lead.t3SentAt ?? null,
    t7_sent_at: lead.t7SentAt ?? null,
  })
  return id
}

export async function insertActivity(owner: Knex, leadId: string, type: string, occurredAt: Date): Promise<void> {
  await owner('lead_activities').insert({ lead_id: leadId, type, occurred_at: occurredAt, summary: `${type} by test`, user_id: 'sales-1' })
}

export async function activitiesOf(owner: Knex, leadId: string): Promise<{ type: string; summary: string; user_id: string; occurred_at: Date; metadata: any }[]> {
  return owner('lead_activities').where('lead_id', leadId).orderBy('created_at').select('type', 'summary', 'user_id', 'occurred_at', 'metadata')
}

export async function leadRow(owner: Knex, leadId: string): Promise<any> {
  return owner('leads').where('id', leadId).first()
}

export async function outboxOf(owner: Knex, leadId: string): Promise<any[]> {
  return owner('email_outbox').where('lead_id', leadId).orderBy('created_at')
}

/** pg-boss's own record of the jobs for a singleton key (all states). */
export async function jobsFor(owner: Knex, queue: string, singletonKey: string): Promise<{ id: string; state: string; start_after: Date; output: any }[]> {
  return owner('pgboss.job').where({ name: queue, singleton_key: singletonKey }).orderBy('created_on').select('id', 'state', 'start_after', 'output')
}

/** pg-boss's record of the email.send job of an outbox row. */
export async function emailJobOf(owner: Knex, outboxId: string): Promise<{ id: string; state: string; output: any; retry_count: number; retry_limit: number; retry_backoff: boolean } | undefined> {
  return owner('pgboss.job').where('name', 'email.send').whereRaw(`data->>'outboxId' = ?`, [outboxId]).first('id', 'state', 'output', 'retry_count', 'retry_limit', 'retry_backoff')
}

/** Time travel for a deferred job: it becomes due now (the worker fetches it on its next poll). */
export async function makeDueNow(owner: Knex, queue: string, singletonKey: string): Promise<void> {
  const updated = await owner('pgboss.job').where({ name: queue, singleton_key: singletonKey, state: 'created' }).update({ start_after: owner.raw('now()') })
  if (updated !== 1) throw new Error(`expected one waiting job ${queue} ${singletonKey}, found ${updated}`)
}

/** Polls until the predicate holds; fails naming what it waited for. */
export async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  if (!(await waitFor(predicate, ms))) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/** Waits until every job for the key has finished (completed or failed). */
export async function settled(owner: Knex, queue: string, singletonKey: string): Promise<void> {
  await waitUntil(`${queue} ${singletonKey} to finish`, async () => {
    const jobs = await jobsFor(owner, queue, singletonKey)
    return jobs.length > 0 && jobs.every((j) => j.state === 'completed' || j.state === 'failed')
  })
}

/** Runs a follow-up now (a job without startAfter, as the sweep sends it) and waits until pg-boss has finished it. */
export async function runFollowUpJobNow(stack: Stack, leadId: string, kind: 'T3' | 'T7'): Promise<{ id: string; state: string; start_after: Date; output: any }> {
  const queue = kind === 'T3' ? 'follow-up.t3' : 'follow-up.t7'
  await stack.deps.boss.send(queue, { leadId, tenantId: 'default' }, { singletonKey: `${leadId}:${kind}` })
  await settled(stack.owner, queue, `${leadId}:${kind}`)
  return (await jobsFor(stack.owner, queue, `${leadId}:${kind}`))[0]!
}

/** Wall-clock instant of a zone-less ISO time in Europe/Berlin or Europe/Zurich (CET/CEST), for readable test dates. */
export function centralEuropean(isoLocal: string, offsetHours: 1 | 2): Date {
  return new Date(`${isoLocal}+0${offsetHours}:00`)
}
