// The `email_outbox` table (§6): every statement on it, named. A mail is written already rendered,
// with its `email.send` job, in the transaction of whatever caused it; jobs/email.ts delivers it.
import { randomUUID } from 'node:crypto'
import { enqueue } from '../lib/boss.ts'
import type { Config } from '../lib/config.ts'
import type { Tx } from '../lib/db.ts'
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

export type OutboxMailStatus = 'QUEUED' | 'SENT' | 'FAILED'

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

/** A fresh token for a mail's unsubscribe link, and the link itself. */
export function unsubscribeLink(config: Pick<Config, 'publicBaseUrl'>): { token: string; url: string } {
  const token = randomUUID()
  return { token, url: `${config.publicBaseUrl}/unsubscribe/${token}` }
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
