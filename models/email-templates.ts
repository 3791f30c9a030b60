// The `email_templates` table (§6): a territory's templates, a tenant's own before the defaults.
import type { Tx } from '../lib/db.ts'
import type { Territory } from '../lib/tenancy.ts'
import type { FooterTemplate, MailTemplate } from '../lib/mail-template.ts'

const TEMPLATE = `select subject, text_body, html_body from email_templates
  where territory = ? and template_key = ? order by tenant_id = 'default' limit 1`
const TEMPLATES = `select template_key, subject, text_body, html_body from email_templates
  where territory = ? and template_key in (?, 'FOOTER') order by tenant_id = 'default'`

/** The template `key` of a territory and the territory's footer; an error when either is missing. */
export async function mailTemplateWithFooter(tx: Tx, territory: Territory, key: string): Promise<{ template: MailTemplate; footer: FooterTemplate }> {
  const { rows } = await tx.trx.raw<{ rows: { template_key: string; subject: string | null; text_body: string; html_body: string }[] }>(TEMPLATES, [territory, key])
  const template = rows.find((t) => t.template_key === key)
  const footer = rows.find((t) => t.template_key === 'FOOTER')
  if (!template?.subject || !footer) throw new Error(`e-mail templates ${key} and FOOTER for territory ${territory} are missing`)
  return {
    template: { subject: template.subject, textBody: template.text_body, htmlBody: template.html_body },
    footer: { textBody: footer.text_body, htmlBody: footer.html_body },
  }
}

/** The template `key` of a territory alone (internal mails carry no customer footer); an error when missing. */
export async function mailTemplate(tx: Tx, territory: Territory, key: string): Promise<MailTemplate> {
  const { rows } = await tx.trx.raw<{ rows: { subject: string | null; text_body: string; html_body: string }[] }>(TEMPLATE, [territory, key])
  const template = rows[0]
  if (!template?.subject) throw new Error(`e-mail template ${key} for territory ${territory} is missing`)
  return { subject: template.subject, textBody: template.text_body, htmlBody: template.html_body }
}
