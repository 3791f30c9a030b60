// §6 e-mail delivery: a mail is a row in `email_outbox`, written (already rendered) in the same
// transaction as whatever caused it, together with an `email.send` job (models/email-outbox.ts);
// this job delivers the row over SMTP. So a rolled-back follow-up sends nothing, and a committed one is never lost: if SMTP
// is down, pg-boss retries the job with backoff until it is back (see EMAIL_QUEUES).
import { createTransport } from 'nodemailer'
import type { Job, JobWithMetadata } from 'pg-boss'
import { inTransaction, systemContext } from '../lib/db.ts'
import type { Config } from '../lib/config.ts'
import type { Deps } from '../lib/deps.ts'
import { EMAIL_QUEUES, EMAIL_SEND_QUEUE } from '../lib/queues.ts'
import { lockOutboxMail, markMailSent, recordFailedAttempt, type EmailSendData } from '../models/email-outbox.ts'
import type { JobDefinition } from './definitions.ts'

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

export type DeliveryResult =
  | { outcome: 'sent'; messageId: string }
  | { outcome: 'logged'; messageId: string }
  | { outcome: 'already-sent' }
  | { outcome: 'cancelled' }
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
    const row = await lockOutboxMail(tx, job.data.outboxId)
    if (!row) return { outcome: 'missing' }
    if (row.status === 'SENT') return { outcome: 'already-sent' }
    // Consent withdrawn (or the lead erased) after the mail was queued (§13).
    if (row.status === 'CANCELLED') return { outcome: 'cancelled' }
    const messageId = messageIdFor(row.id, deps.config.mailFrom)
    try {
      const info = await transporterFor(deps.config).sendMail({
        from: deps.config.mailFrom,
        to: row.recipient,
        subject: row.subject,
        text: row.textBody,
        html: row.htmlBody,
        headers: row.headers,
        messageId,
      })
      await markMailSent(tx, row.id, info.messageId ?? messageId)
      if (!deps.config.smtpUrl) {
        // Development without SMTP: no personal data at info level (§13); the whole mail only at debug.
        deps.logger.info({ outboxId: row.id }, 'e-mail (SMTP_URL not set, not sent; LOG_LEVEL=debug shows it)')
        deps.logger.debug({ outboxId: row.id, to: row.recipient, subject: row.subject, text: row.textBody }, 'e-mail content (SMTP_URL not set)')
        return { outcome: 'logged', messageId: info.messageId ?? messageId }
      }
      return { outcome: 'sent', messageId: info.messageId ?? messageId }
    } catch (error) {
      const rejectedWith = permanentResponseCode(error)
      const final = rejectedWith !== undefined || job.retryCount >= retryLimit
      await recordFailedAttempt(tx, row.id, describe(error), final ? 'FAILED' : row.status)
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
  work: { includeMetadata: true },
  async handle(deps: Deps, jobs: Job<EmailSendData>[]) {
    const results: DeliveryResult[] = []
    for (const job of jobs as JobWithMetadata<EmailSendData>[]) results.push(await deliverOutboxMail(deps, job))
    return { results }
  },
}
