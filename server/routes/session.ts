import { Router } from '@koa/router'
import type { Context, Middleware } from 'koa'
import type { Config } from '../../lib/config.ts'
import { ACCESS_TOKEN_COOKIE, authenticate, requireRole, type Principal, type TokenVerifier } from '../auth.ts'
import { DomainError, problems } from '../../models/errors.ts'
import { validBody } from '../validation.ts'
import { pageCsp, sendPage } from '../middleware/browser-security.ts'

// Browser pages (queue board, dashboard) cannot put a bearer token on every request, and a token
// must never travel in a URL or land in a log. So a page posts the token once to /login (JSON body),
// gets it back as an HttpOnly, SameSite=Strict cookie, and `authenticate` reads that cookie.

// Where to go after login: a path of this origin only. Parsing `next` as a URL against our origin is
// what the browser does on navigation (a backslash is a slash, tabs and newlines vanish), so
// `/\evil.example` or `/%09/evil.example` resolve to another origin here too and are refused.
const LOGIN_SCRIPT = `
function afterLogin() {
  const next = new URLSearchParams(location.search).get('next')
  if (!next) return '/dashboard'
  try {
    const url = new URL(next, location.origin)
    if (url.origin === location.origin) return url.pathname + url.search + url.hash
  } catch {}
  return '/dashboard'
}
document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault()
  const response = await fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: document.getElementById('token').value.trim() }) })
  if (response.ok) location.assign(afterLogin())
  else document.getElementById('error').textContent = (await response.json()).detail || 'Anmeldung fehlgeschlagen'
})
`
const LOGIN_CSP = pageCsp(LOGIN_SCRIPT)

const LOGIN_PAGE = `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>FreshPlan – Anmeldung</title>
<style>body{font:16px system-ui;margin:4rem auto;max-width:32rem}textarea{width:100%;height:8rem}button{margin-top:1rem;padding:.5rem 1.5rem}#error{color:#b00}</style>
</head><body><h1>FreshPlan Leads</h1><form id="login"><label for="token">Access token (JWT)</label>
<textarea id="token" name="token" autocomplete="off" required></textarea><button type="submit">Anmelden</button>
<p id="error" role="alert"></p></form>
<script>${LOGIN_SCRIPT}</script></body></html>`

/** A page load (browsers ask for text/html when navigating), as opposed to a script's API call. */
function wantsPage(ctx: Context): boolean {
  return ctx.method === 'GET' && ctx.get('Accept').includes('text/html')
}

/** Session login/logout for the browser pages. */
export function sessionRoutes(config: Pick<Config, 'nodeEnv'>, verify: TokenVerifier): Router {
  const router = new Router()
  router.get('/login', (ctx) => {
    sendPage(ctx, LOGIN_PAGE, LOGIN_CSP)
  })
  router.post('/login', async (ctx) => {
    // The cookie is Secure in production: over plain HTTP the browser would never send it back
    // (and koa refuses to set it). Behind a TLS-terminating proxy, TRUST_PROXY makes this secure.
    if (config.nodeEnv === 'production' && !ctx.secure) {
      throw new DomainError({
        status: 403,
        type: 'https-required',
        title: 'HTTPS Required',
        detail: 'Sign in over HTTPS. Behind a TLS-terminating proxy that sets X-Forwarded-Proto, set TRUST_PROXY=true.',
      })
    }
    const { token } = validBody<{ token: string }>('Login', ctx.state.body)
    try {
      await verify(token)
    } catch {
      throw problems.unauthorized('The token is invalid or expired.')
    }
    ctx.cookies.set(ACCESS_TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: config.nodeEnv === 'production', path: '/', overwrite: true })
    ctx.status = 204
  })
  router.post('/logout', (ctx) => {
    ctx.cookies.set(ACCESS_TOKEN_COOKIE, null, { httpOnly: true, sameSite: 'strict', path: '/' })
    ctx.status = 204
  })
  return router
}

/**
 * Access to a browser page for the given roles: a visitor without any token is sent to the login
 * page (for page loads) or gets a 401 (for the page's API calls); a wrong role is a 403.
 */
export function pageAccess(verify: TokenVerifier, ...roles: Principal['role'][]): Middleware {
  const authenticated = authenticate(verify)
  const allowed = requireRole(...roles)
  return async (ctx, next) => {
    const hasToken = Boolean(ctx.get('Authorization') || ctx.cookies.get(ACCESS_TOKEN_COOKIE))
    if (!hasToken && wantsPage(ctx)) {
      ctx.redirect(`/login?next=${encodeURIComponent(ctx.path)}`)
      return
    }
    await authenticated(ctx, () => allowed(ctx, next))
  }
}
