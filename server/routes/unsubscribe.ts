import { Router } from '@koa/router'
import type { Context } from 'koa'
import getRawBody from 'raw-body'
import { getBoundary, parse as parseMultipart } from 'parse-multipart-data'
import type { Deps } from '../../lib/deps.ts'
import { unsubscribe, unsubscribeTokenKnown } from '../../models/privacy.ts'
import { BASE_CSP, sendPage } from '../middleware/browser-security.ts'

// §13: the unsubscribe link of every follow-up mail, without login. GET shows a small German page
// with one button (GET changes nothing: link scanners and previews fetch it); POST withdraws the
// consent: what the button sends and what a mail client sends for RFC 8058 one-click
// (`List-Unsubscribe=One-Click`, form-encoded). Mounted before the CSRF check and the JSON body
// parser (server/app.ts): no cookie authenticates it, the token in the path does.

/** No script at all; the form posts to this origin only. */
const PAGE_CSP = `default-src 'none'; style-src 'unsafe-inline'; ${BASE_CSP}`
/** A form body here is one short field; anything longer is not a one-click request. */
const MAX_FORM_BYTES = 1024
const ONE_CLICK = 'One-Click'

const escapeHtml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

function page(title: string, body: string): string {
  return `<!doctype html><html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)} – FreshPlan</title>
<style>body{font:16px system-ui;margin:0;background:#f5f7f4;color:#222}main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin-top:0}button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#2d6a2d;color:#fff;cursor:pointer}
.small{color:#666;font-size:.85rem}</style></head><body><main>${body}</main></body></html>`
}

const CONFIRM = (action: string) => page('Abmelden', `<h1>E-Mails von FreshPlan abbestellen</h1>
<p>Möchten Sie keine E-Mails mehr von uns erhalten? Mit einem Klick widerrufen Sie Ihre Einwilligung; bereits geplante E-Mails werden nicht mehr versandt.</p>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="${ONE_CLICK}"><button type="submit" id="unsubscribe">Jetzt abmelden</button></form>
<p class="small">Sie können sich jederzeit wieder bei Ihrem Ansprechpartner melden.</p>`)
const DONE = page('Abgemeldet', `<h1 id="done">Sie sind abgemeldet</h1>
<p>Sie erhalten von FreshPlan keine E-Mails mehr an diese Adresse. Ihre Einwilligung ist widerrufen.</p>`)
const UNKNOWN = page('Link ungültig', `<h1>Dieser Abmelde-Link ist ungültig</h1>
<p>Bitte verwenden Sie den vollständigen Link aus unserer E-Mail.</p>`)

function sendUnsubscribePage(ctx: Context, status: number, html: string): void {
  sendPage(ctx, html, PAGE_CSP, status)
}

/** The value of the List-Unsubscribe field of the request's form body; undefined when there is none (or the body is too large or no form). */
async function oneClickAction(ctx: Context): Promise<string | undefined> {
  const type = ctx.is('application/x-www-form-urlencoded', 'multipart/form-data')
  if (!type) return undefined
  let raw: Buffer
  try {
    raw = await getRawBody(ctx.req, { length: ctx.get('Content-Length') || null, limit: MAX_FORM_BYTES })
  } catch {
    return undefined
  }
  if (type === 'application/x-www-form-urlencoded') return new URLSearchParams(raw.toString('utf-8')).get('List-Unsubscribe') ?? undefined
  const boundary = /boundary=/i.test(ctx.get('Content-Type')) ? getBoundary(ctx.get('Content-Type')) : ''
  if (!boundary) return undefined
  try {
    return parseMultipart(raw, boundary).find((part) => part.name === 'List-Unsubscribe' && part.filename === undefined)?.data.toString('utf-8').trim()
  } catch {
    return undefined
  }
}

export function unsubscribeRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/unsubscribe' })

  router.get('/:token', async (ctx) => {
    const token = ctx.params.token!
    if (!(await unsubscribeTokenKnown(deps, token))) return sendUnsubscribePage(ctx, 404, UNKNOWN)
    sendUnsubscribePage(ctx, 200, CONFIRM(`/unsubscribe/${encodeURIComponent(token)}`))
  })

  router.post('/:token', async (ctx) => {
    // RFC 8058 §3.1: the body names the one-click action, form-encoded or multipart; our page's form sends the same field.
    if (await oneClickAction(ctx) !== ONE_CLICK) {
      ctx.status = 400
      ctx.type = 'text/plain'
      ctx.body = 'Send List-Unsubscribe=One-Click (application/x-www-form-urlencoded or multipart/form-data).'
      return
    }
    const outcome = await unsubscribe(deps, ctx.params.token!)
    if (outcome === 'unknown') return sendUnsubscribePage(ctx, 404, UNKNOWN)
    sendUnsubscribePage(ctx, 200, DONE)
  })

  return router
}
