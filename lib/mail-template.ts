// Renders the e-mail templates stored in the database (migrations/V0004): a deliberately small,
// logic-less syntax, so that whoever edits a template cannot run code or reach data beyond the
// variables a job hands over.
//
//   {{name}}               the variable's value (HTML-escaped in HTML bodies)
//   {{#name}}…{{/name}}    the block, only when the variable has a value
//   {{^name}}…{{/name}}    the block, only when it has none
//
// A name the caller did not provide, or a stray "{{", throws: a template typo must fail the job
// (visible and retried after a fix), never reach a customer as "Guten Tag {{contactName}}".

export type TemplateValue = string | number | null | undefined
export type TemplateVariables = Readonly<Record<string, TemplateValue>>

export class TemplateError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TemplateError'
  }
}

const SECTION = /\{\{([#^])\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}([\s\S]*?)\{\{\/\s*\2\s*\}\}/g
const VARIABLE = /\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)
}

function hasValue(value: TemplateValue): boolean {
  return value !== null && value !== undefined && value !== ''
}

function lookup(variables: TemplateVariables, name: string): TemplateValue {
  if (!Object.hasOwn(variables, name)) throw new TemplateError(`template uses {{${name}}}, which this mail does not provide`)
  return variables[name]
}

export function renderTemplate(template: string, variables: TemplateVariables, options: { html: boolean }): string {
  // Outer blocks first; repeating resolves blocks nested inside kept ones.
  let withSections = template
  for (let previous = ''; previous !== withSections; ) {
    previous = withSections
    withSections = withSections.replace(SECTION, (_match, kind: string, name: string, body: string) =>
      hasValue(lookup(variables, name)) === (kind === '#') ? body : '',
    )
  }
  const rendered = withSections.replace(VARIABLE, (_match, name: string) => {
    const value = lookup(variables, name)
    const text = hasValue(value) ? String(value) : ''
    return options.html ? escapeHtml(text) : text
  })
  if (rendered.includes('{{')) throw new TemplateError(`template has an unclosed or malformed tag near "${rendered.slice(rendered.indexOf('{{'), rendered.indexOf('{{') + 30)}"`)
  return rendered
}

export interface MailTemplate {
  subject: string
  textBody: string
  htmlBody: string
}

export interface FooterTemplate {
  textBody: string
  htmlBody: string
}

export interface RenderedMail {
  subject: string
  text: string
  html: string
}

/**
 * Swiss Standard German has no ß. The CH templates are written without it; values that come
 * from shared code (product labels) are adapted here so a de-CH mail never contains one.
 */
export function localizeSpelling(value: string, locale: string): string {
  return locale === 'de-CH' ? value.replaceAll('ß', 'ss') : value
}

/**
 * A whole mail: subject, plain text and HTML, each with the territory's footer appended, so no
 * mail can go out without the company details and the unsubscribe link.
 */
export function renderMail(template: MailTemplate, footer: FooterTemplate, variables: TemplateVariables, locale: string): RenderedMail {
  const localized: Record<string, TemplateValue> = {}
  for (const [name, value] of Object.entries(variables)) localized[name] = typeof value === 'string' ? localizeSpelling(value, locale) : value
  const subject = renderTemplate(template.subject, localized, { html: false }).replace(/\s+/g, ' ').trim()
  const text = renderTemplate(template.textBody, localized, { html: false }) + renderTemplate(footer.textBody, localized, { html: false })
  const body = renderTemplate(template.htmlBody, localized, { html: true }) + renderTemplate(footer.htmlBody, localized, { html: true })
  const html = `<!DOCTYPE html>\n<html lang="${escapeHtml(locale)}">\n<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>\n<body>\n${body}</body>\n</html>\n`
  return { subject, text, html }
}
