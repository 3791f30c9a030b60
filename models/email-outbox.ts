// The `email_outbox` table (§6): every statement on it, named. A mail is written already rendered,
// with its `email.send` job, in the transaction of whatever caused it; jobs/email.ts delivers it.
import { randomBytes } from 'node:crypto'
import { enqueue } from '../lib/boss.ts'
import type { Config } from '../lib/config.ts'
import type { Knex, Tx } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { EMAIL_SEND_QUEUE } from '../lib/queues.ts'
import type { Territory } from '../lib/tenancy.ts'

const INSERT_MAIL = `insert into email_outbox (tenant_id, lead_id, territory, template_key, dedupe_key, recipient, subject, text_body, html_body, headers, unsubscribe_token)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)
  on conflict (tenant_id, dedupe_key) do nothing
  returning id`
const LOCK_MAIL = `select id, recipient, subject, text_body, html_body, headers, status, attempts from email_outbox where id = ? for update`
const MARK_SENT = `update email_outbox set status = 'SENT', sent_at = now(), message_id = ?, attempts = attempts + 1, last_error = null, updated_at = now() where id = ?`
const RECORD_FAILED_ATTEMPT = `update email_outbox set attempts = attempts + 1, last_error = ?, status = ?, updated_at = now() where id = ?`

export type OutboxMailStatus = 'QUEUED' | 'SENT' | 'FAILED' | 'CANCELLED'

/** An outbox row as delivery needs it. */
export interface OutboxRow {
  id: string
  recipient: string
  subject: string
  textBody: string
  htmlBody: string
  headers: Record<string, string>
  status: OutboxMailStatus
  attempts: number
}

export interface EmailSendData {
  outboxId: string
  tenantId: string
  /** The mail's territory, for the queue board's scope (issue 14); the handler never reads it. */
  territory?: Territory
}

/** A rendered mail to queue; the caller has rendered it from the territory's templates. */
export interface OutboxMail {
  leadId: string
  territory: Territory
  templateKey: string
  /** What this mail is, once per tenant (e.g. `follow-up:<leadId>:T3`); a second queueing is a no-op. */
  dedupeKey: string
  recipient: string
  subject: string
  text: string
  html: string
  headers?: Record<string, string>
  unsubscribeToken: string
}

/**
 * Writes the outbox row and enqueues its `email.send` job in the caller's transaction (a SYSTEM
 * context: only jobs write mails). Returns the row's id, or null when a mail with this dedupe key
 * already exists (then no second job is enqueued either).
 */
export async function queueOutboxMail(deps: Pick<Deps, 'boss'>, tx: Tx, mail: OutboxMail): Promise<string | null> {
  const { rows } = await tx.trx.raw<{ rows: { id: string }[] }>(INSERT_MAIL, [
    tx.ctx.tenantId, mail.leadId, mail.territory, mail.templateKey, mail.dedupeKey, mail.recipient, mail.subject, mail.text, mail.html, JSON.stringify(mail.headers ?? {}), mail.unsubscribeToken,
  ])
  const id = rows[0]?.id
  if (id === undefined) return null
  const data: EmailSendData = { outboxId: id, tenantId: tx.ctx.tenantId, territory: mail.territory }
  await enqueue(deps.boss, tx, EMAIL_SEND_QUEUE, data)
  return id
}

/** 256 random bits, base64url: 43 characters. */
const UNSUBSCRIBE_TOKEN_BYTES = 32
/** What a token in a URL may look like (older mails carry a UUID); anything else is not looked up. */
export const UNSUBSCRIBE_TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,64}$/

/**
 * A fresh token for a mail's unsubscribe link, and the link itself. Unguessable (256 random bits)
 * and scoped to one lead: the token is stored with the mail, and the mail with its lead (§13).
 */
export function unsubscribeLink(config: Pick<Config, 'publicBaseUrl'>): { token: string; url: string } {
  const token = randomBytes(UNSUBSCRIBE_TOKEN_BYTES).toString('base64url')
  return { token, url: `${config.publicBaseUrl}/unsubscribe/${token}` }
}

/**
 * The lead a mail's unsubscribe token belongs to. The request has no login and no context, so the
 * lookup is the SECURITY DEFINER function `unsubscribe_target` (V0014): it answers for exactly this
 * token and reveals nothing but where its lead is.
 */
export async function unsubscribeTarget(knex: Knex, token: string): Promise<{ tenantId: string; territory: Territory; leadId: string } | undefined> {
  if (!UNSUBSCRIBE_TOKEN_PATTERN.test(token)) return undefined
  const { rows } = await knex.raw<{ rows: { tenant_id: string; territory: Territory; lead_id: string }[] }>('select tenant_id, territory, lead_id from unsubscribe_target(?)', [token])
  const row = rows[0]
  return row && { tenantId: row.tenant_id, territory: row.territory, leadId: row.lead_id }
}

/**
 * QUEUED → CANCELLED for the lead's mails, through the definer function `cancel_queued_mails`
 * (V0014: only the caller's tenant and territories, only once the lead has no consent), and
 * cancels their waiting `email.send` jobs in the same transaction. Returns the cancelled mails' ids.
 */
export async function cancelQueuedMails(deps: Pick<Deps, 'boss'>, tx: Tx, leadId: string): Promise<string[]> {
  const { rows } = await tx.trx.raw<{ rows: { id: string }[] }>('select cancel_queued_mails(?) as id', [leadId])
  for (const { id } of rows) {
    const jobs = await deps.boss.findJobs(EMAIL_SEND_QUEUE, { data: { outboxId: id }, queued: true, db: tx.db })
    if (jobs.length > 0) await deps.boss.cancel(EMAIL_SEND_QUEUE, jobs.map((job) => job.id), { db: tx.db })
  }
  return rows.map((row) => row.id)
}

const MAILS_OF_LEAD = `select id, template_key, recipient, subject, text_body, html_body, headers, status, attempts, last_error, message_id, sent_at, created_at, updated_at
  from email_outbox where lead_id = ? order by created_at, id`

/** Every mail of a lead, for its data export (§13); RLS lets managers, admins and SYSTEM read the outbox. */
export async function mailsOfLead(tx: Tx, leadId: string): Promise<Record<string, unknown>[]> {
  const { rows } = await tx.trx.raw<{ rows: Record<string, unknown>[] }>(MAILS_OF_LEAD, [leadId])
  return rows.map((row) => ({
    id: row.id,
    templateKey: row.template_key,
    recipient: row.recipient,
    subject: row.subject,
    textBody: row.text_body,
    htmlBody: row.html_body,
    headers: row.headers,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    messageId: row.message_id,
    sentAt: row.sent_at instanceof Date ? row.sent_at.toISOString() : null,
    createdAt: (row.created_at as Date).toISOString(),
    updatedAt: (row.updated_at as Date).toISOString(),
  }))
}

/** The row, locked until the transaction ends: a re-delivered job waits for this one's outcome. */
export async function lockOutboxMail(tx: Tx, id: string): Promise<OutboxRow | undefined> {
  const { rows } = await tx.trx.raw<{ rows: { id: string; recipient: string; subject: string; text_body: string; html_body: string; headers: Record<string, string>; status: OutboxMailStatus; attempts: number }[] }>(LOCK_MAIL, [id])
  const row = rows[0]
  return row && { id: row.id, recipient: row.recipient, subject: row.subject, textBody: row.text_body, htmlBody: row.html_body, headers: row.headers, status: row.status, attempts: row.attempts }
}

export async function markMailSent(tx: Tx, id: string, messageId: string): Promise<void> {
  await tx.trx.raw(MARK_SENT, [messageId, id])
}

/** Counts a failed attempt; `status` FAILED ends the mail's retries. */
export async function recordFailedAttempt(tx: Tx, id: string, error: string, status: OutboxMailStatus): Promise<void> {
  await tx.trx.raw(RECORD_FAILED_ATTEMPT, [error, status, id])
}
