// Renders the e-mail templates stored in the database (migrations/V0004) with mustache, limited to
// its logic-less core, so that whoever edits a template cannot run code or reach data beyond the
// variables a job hands over:
//
//   {{name}}               the variable's value (HTML-escaped in HTML bodies)
//   {{#name}}…{{/name}}    the block, only when the variable has a value
//   {{^name}}…{{/name}}    the block, only when it has none
//
// A name the caller did not provide, a malformed tag, or mustache's other tags (partials, unescaped
// values, delimiter changes) throw: a template typo must fail the job (visible and retried after a
// fix), never reach a customer as "Guten Tag {{contactName}}". Values are substituted, never parsed:
// a company called "Cafe {{contactName}}" is just text.
import Mustache from 'mustache'

export type TemplateValue = string | number | null | undefined
export type TemplateVariables = Readonly<Record<string, TemplateValue>>

export class TemplateError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TemplateError'
  }
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)
}

/** mustache's token kinds this syntax allows: text, {{name}}, {{#name}}, {{^name}}, comments. */
const ALLOWED = new Set(['text', 'name', '#', '^', '!'])
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/

type Token = [kind: string, value: string, start: number, end: number, children?: Token[]]

function checkTokens(tokens: Token[], variables: TemplateVariables): void {
  for (const [kind, value, start, , children] of tokens) {
    if (!ALLOWED.has(kind)) throw new TemplateError(`template uses the tag "${kind}" at ${start}, which mail templates do not allow`)
    if (kind === 'text' || kind === '!') continue
    if (!NAME.test(value)) throw new TemplateError(`template uses {{${value}}}, which is not a variable name`)
    if (!Object.hasOwn(variables, value)) throw new TemplateError(`template uses {{${value}}}, which this mail does not provide`)
    if (children) checkTokens(children, variables)
  }
}

export function renderTemplate(template: string, variables: TemplateVariables, options: { html: boolean }): string {
  let tokens: Token[]
  try {
    tokens = Mustache.parse(template) as Token[]
  } catch (error) {
    throw new TemplateError(`template is malformed: ${(error as Error).message}`)
  }
  checkTokens(tokens, variables)
  // "No value" is null, undefined or "": all three render nothing and make a {{#block}} false; every
  // other value is text (mustache would treat 0 as false).
  const view: Record<string, string> = {}
  for (const [name, value] of Object.entries(variables)) view[name] = value === null || value === undefined ? '' : String(value)
  return Mustache.render(template, view, {}, { escape: options.html ? escapeHtml : (text: string) => text })
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
