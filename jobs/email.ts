// §6 e-mail delivery: a mail is a row in `email_outbox`, written (already rendered) in the same
// transaction as whatever caused it, together with an `email.send` job; the job delivers the row
// over SMTP. So a rolled-back follow-up sends nothing, and a committed one is never lost: if SMTP
// is down, pg-boss retries the job with backoff until it is back (see EMAIL_QUEUES).
import { randomUUID } from 'node:crypto'
import { createTransport } from 'nodemailer'
import type { Job, JobWithMetadata } from 'pg-boss'
import { inTransaction, systemContext, type Territory, type Tx } from '../lib/db.ts'
import type { Config } from '../lib/config.ts'
import type { Deps } from '../lib/deps.ts'
import { enqueue } from './boss.ts'
import { EMAIL_QUEUES, EMAIL_SEND_QUEUE, NOTIFY_QUEUE_WORK } from './queues.ts'
import type { JobDefinition } from './registry.ts'

export interface EmailSendData {
  outboxId: string
  tenantId: string
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
  const { rows } = await tx.trx.raw<{ rows: { id: string }[] }>(
    `insert into email_outbox (tenant_id, lead_id, territory, template_key, dedupe_key, recipient, subject, text_body, html_body, headers, unsubscribe_token)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)
     on conflict (tenant_id, dedupe_key) do nothing
     returning id`,
    [tx.ctx.tenantId, mail.leadId, mail.territory, mail.templateKey, mail.dedupeKey, mail.recipient, mail.subject, mail.text, mail.html, JSON.stringify(mail.headers ?? {}), mail.unsubscribeToken],
  )
  const id = rows[0]?.id
  if (id === undefined) return null
  const data: EmailSendData = { outboxId: id, tenantId: tx.ctx.tenantId }
  await enqueue(deps.boss, tx, EMAIL_SEND_QUEUE, data)
  return id
}

/** A fresh token for a mail's unsubscribe link, and the link itself. */
export function unsubscribeLink(config: Pick<Config, 'publicBaseUrl'>): { token: string; url: string } {
  const token = randomUUID()
  return { token, url: `${config.publicBaseUrl}/unsubscribe/${token}` }
}

type Transporter = ReturnType<typeof createTransport>

let cachedTransport: { key: string; transporter: Transporter } | undefined

/**
 * SMTP when SMTP_URL is set. Without it (development and tests only: production refuses to start
 * without SMTP_URL) mails are built but only written to the log. Timeouts are short because a
 * delivery holds the outbox row's lock; a slow server is a failed attempt, retried later.
 */
function transporterFor(config: Pick<Config, 'smtpUrl'>): Transporter {
  const key = config.smtpUrl ?? 'log'
  if (cachedTransport?.key !== key) {
    const transporter = config.smtpUrl
      ? createTransport({ url: config.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 })
      : (createTransport({ jsonTransport: true }) as unknown as Transporter)
    cachedTransport = { key, transporter }
  }
  return cachedTransport.transporter
}

interface OutboxRow {
  id: string
  recipient: string
  subject: string
  text_body: string
  html_body: string
  headers: Record<string, string>
  status: 'QUEUED' | 'SENT' | 'FAILED'
  attempts: number
}

export type DeliveryResult =
  | { outcome: 'sent'; messageId: string }
  | { outcome: 'logged'; messageId: string }
  | { outcome: 'already-sent' }
  | { outcome: 'missing' }
  | { outcome: 'rejected'; responseCode: number }

/** An SMTP reply of 5xx is permanent (RFC 5321 §4.2.1): retrying the same mail cannot help. */
function permanentResponseCode(error: unknown): number | undefined {
  const code = (error as { responseCode?: unknown }).responseCode
  return typeof code === 'number' && code >= 500 && code < 600 ? code : undefined
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; responseCode?: unknown; message?: unknown }
  const parts = [typeof e.code === 'string' ? e.code : undefined, typeof e.responseCode === 'number' ? String(e.responseCode) : undefined, String(e.message ?? error)]
  return parts.filter((p) => p !== undefined).join(' ').slice(0, 2000)
}

/** The `Message-ID` of an outbox row: the same on every attempt, so a receiver can spot a duplicate. */
function messageIdFor(outboxId: string, mailFrom: string): string {
  const domain = /@([^>\s]+)>?\s*$/.exec(mailFrom)?.[1] ?? 'freshplan.invalid'
  return `<${outboxId}@${domain}>`
}

/**
 * Delivers one outbox row. The row stays locked (`for update`) while the SMTP conversation runs,
 * so a re-delivered job waits and then finds it SENT; a SENT row is never sent again. A failed
 * attempt is recorded (attempts, last_error) and then thrown, so pg-boss retries with backoff;
 * on the last attempt, or when the server refuses the mail for good (5xx), the row ends FAILED.
 */
export async function deliverOutboxMail(deps: Deps, job: { data: EmailSendData; retryCount: number; retryLimit?: number }): Promise<DeliveryResult> {
  // The job's own limit (an operator may have changed the queue's since), else the queue's.
  const retryLimit = job.retryLimit ?? EMAIL_QUEUES[EMAIL_SEND_QUEUE]!.retryLimit ?? 0
  // The failed attempt must be recorded and committed before the job fails, so it is returned
  // from the transaction and thrown afterwards.
  const result = await inTransaction(deps.knex, systemContext(job.data.tenantId), async (tx): Promise<DeliveryResult | { outcome: 'retry'; error: Error }> => {
    const { rows } = await tx.trx.raw<{ rows: OutboxRow[] }>(
      `select id, recipient, subject, text_body, html_body, headers, status, attempts from email_outbox where id = ? for update`,
      [job.data.outboxId],
    )
    const row = rows[0]
    if (!row) return { outcome: 'missing' }
    if (row.status === 'SENT') return { outcome: 'already-sent' }
    const messageId = messageIdFor(row.id, deps.config.mailFrom)
    try {
      const info = await transporterFor(deps.config).sendMail({
        from: deps.config.mailFrom,
        to: row.recipient,
        subject: row.subject,
        text: row.text_body,
        html: row.html_body,
        headers: row.headers,
        messageId,
      })
      await tx.trx.raw(
        `update email_outbox set status = 'SENT', sent_at = now(), message_id = ?, attempts = attempts + 1, last_error = null, updated_at = now() where id = ?`,
        [info.messageId ?? messageId, row.id],
      )
      if (!deps.config.smtpUrl) {
        // Development without SMTP: the log is the mailbox.
        deps.logger.info({ outboxId: row.id, to: row.recipient, subject: row.subject, text: row.text_body }, 'e-mail (SMTP_URL not set, not sent)')
        return { outcome: 'logged', messageId: info.messageId ?? messageId }
      }
      return { outcome: 'sent', messageId: info.messageId ?? messageId }
    } catch (error) {
      const rejectedWith = permanentResponseCode(error)
      const final = rejectedWith !== undefined || job.retryCount >= retryLimit
      await tx.trx.raw(`update email_outbox set attempts = attempts + 1, last_error = ?, status = ?, updated_at = now() where id = ?`, [
        describe(error),
        final ? 'FAILED' : row.status,
        row.id,
      ])
      if (rejectedWith !== undefined) return { outcome: 'rejected', responseCode: rejectedWith }
      // Without the recipient: this message reaches logs and the job's output.
      const code = (error as { code?: unknown }).code
      return { outcome: 'retry', error: new Error(`SMTP delivery of outbox mail ${row.id} failed (attempt ${row.attempts + 1}): ${typeof code === 'string' ? code : 'error'}`) }
    }
  })
  if (result.outcome === 'retry') throw result.error
  if (result.outcome === 'rejected') deps.logger.warn({ outboxId: job.data.outboxId, responseCode: result.responseCode }, 'e-mail refused by the SMTP server; not retried')
  return result
}

export const emailSendJob: JobDefinition<EmailSendData> = {
  queue: EMAIL_SEND_QUEUE,
  // With metadata, each job carries its retryLimit: the last attempt marks the mail FAILED.
  work: { ...NOTIFY_QUEUE_WORK, includeMetadata: true },
  async handle(deps: Deps, jobs: Job<EmailSendData>[]) {
    const results: DeliveryResult[] = []
    for (const job of jobs as JobWithMetadata<EmailSendData>[]) results.push(await deliverOutboxMail(deps, job))
    return { results }
  },
}
