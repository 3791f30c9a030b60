import { Router } from '@koa/router'
import type { TokenVerifier } from '../auth.ts'
import { pageAccess } from './session.ts'
import { TERRITORIES } from '../../lib/tenancy.ts'
import { LEAD_EVENT_TYPES } from '../../models/events.ts'
import { pageCsp, sendPage } from '../middleware/browser-security.ts'

// A small live page over the SSE stream (no framework): the newest lead events and counters per
// event type and territory. EventSource sends the login cookie; the stream shows only what the
// signed-in user may see, and resumes with Last-Event-ID by itself after a dropped connection.
const DASHBOARD_SCRIPT = `
const TYPES = ${JSON.stringify(LEAD_EVENT_TYPES)}
const counts = {}
let total = 0
const tbody = document.querySelector('#counters tbody')
for (const type of TYPES) {
  const row = tbody.insertRow()
  row.dataset.type = type
  row.insertCell().textContent = type.replace('freshplan.lead.', '')
  for (const territory of ${JSON.stringify(TERRITORIES)}) { const cell = row.insertCell(); cell.dataset.territory = territory; cell.textContent = '0' }
}
function show(message) {
  const event = JSON.parse(message.data)
  const key = event.type + '|' + event.territory
  counts[key] = (counts[key] || 0) + 1
  total++
  document.getElementById('total').textContent = String(total)
  const cell = tbody.querySelector('tr[data-type="' + event.type + '"] td[data-territory="' + event.territory + '"]')
  if (cell) cell.textContent = String(counts[key])
  const item = document.createElement('li')
  item.dataset.subject = event.subject
  const lead = event.data && (event.data.lead || event.data)
  const name = lead && lead.companyName ? ' ' + lead.companyName : ''
  item.textContent = new Date(event.time).toLocaleTimeString('de-DE') + ' ' + event.territory + ' ' + event.type.replace('freshplan.lead.', '') + name
  const list = document.getElementById('events')
  list.prepend(item)
  while (list.children.length > 50) list.lastChild.remove()
}
const source = new EventSource('/api/events/stream')
source.onopen = () => { const s = document.getElementById('status'); s.textContent = 'live'; s.className = 'live' }
source.onerror = () => { const s = document.getElementById('status'); s.textContent = 'getrennt – verbinde neu…'; s.className = 'down' }
for (const type of TYPES) source.addEventListener(type, show)
`
const DASHBOARD_CSP = pageCsp(DASHBOARD_SCRIPT)

const DASHBOARD_PAGE = `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>FreshPlan – Lead-Dashboard</title>
<style>
body{font:15px system-ui;margin:2rem;color:#222}h1{margin:0 0 1rem}table{border-collapse:collapse;margin-bottom:1.5rem}
td,th{border:1px solid #ccc;padding:.3rem .7rem;text-align:left}th{background:#f4f4f4}#status{font-weight:bold}
#status.live{color:#080}#status.down{color:#b00}#events li{margin:.2rem 0;font-family:ui-monospace,monospace;font-size:13px}
</style></head><body>
<h1>Lead-Dashboard</h1>
<p>Stream: <span id="status" class="down">verbinde…</span> · Ereignisse: <span id="total">0</span></p>
<table id="counters"><thead><tr><th>Ereignistyp</th>${TERRITORIES.map((t) => `<th>${t}</th>`).join('')}</tr></thead><tbody></tbody></table>
<h2>Neueste Ereignisse</h2><ol id="events" reversed></ol>
<script>${DASHBOARD_SCRIPT}</script></body></html>`

export function dashboardRoutes(verify: TokenVerifier): Router {
  const router = new Router()
  router.get('/dashboard', pageAccess(verify, 'SALES', 'MANAGER', 'ADMIN'), (ctx) => {
    sendPage(ctx, DASHBOARD_PAGE, DASHBOARD_CSP)
  })
  return router
}
