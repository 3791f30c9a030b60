import { Router } from '@koa/router'
import type { TokenVerifier } from '../auth.ts'
import { pageAccess } from './session.ts'
import { pageCsp, sendPage } from '../middleware/browser-security.ts'
import { LEAD_SOURCES } from '../../models/lead-rules.ts'

// §14: a small page (no framework) to upload a lead list and watch its import. The login cookie
// authenticates the upload (POST /api/imports) and the polling of its Location; everything shown
// from the server is set as text, never as HTML (headers and messages come from the file).
const IMPORT_SCRIPT = `
const $ = (id) => document.getElementById(id)
function show(imp) {
  $('result').hidden = false
  $('importId').textContent = imp.id + (imp.dryRun ? ' (Probelauf)' : '')
  $('status').textContent = imp.status
  $('status').className = imp.status
  $('progress').value = imp.progress ?? 0
  for (const key of ['processed', 'created', 'duplicates', 'failed']) $(key).textContent = String(imp[key])
  $('total').textContent = imp.total === null ? '–' : String(imp.total)
  $('reason').textContent = imp.failureReason ?? '–'
}
async function showErrors(location) {
  const response = await fetch(location + '/errors?limit=200')
  if (!response.ok) return
  const page = await response.json()
  const body = $('errors').tBodies[0]
  body.replaceChildren()
  for (const error of page.data) {
    const row = body.insertRow()
    for (const value of [error.row, error.column ?? '', error.message]) row.insertCell().textContent = String(value)
  }
  $('errors').hidden = page.data.length === 0
}
async function watch(location) {
  for (;;) {
    const response = await fetch(location, { cache: 'no-store' })
    if (!response.ok) { $('problem').textContent = 'Fortschritt nicht abrufbar (' + response.status + ')'; return }
    const imp = await response.json()
    show(imp)
    if (imp.status === 'COMPLETED' || imp.status === 'FAILED') return showErrors(location)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}
$('upload').addEventListener('submit', async (event) => {
  event.preventDefault()
  $('problem').textContent = ''
  const form = new FormData($('upload'))
  if (!$('dryRun').checked) form.delete('dryRun')
  const response = await fetch('/api/imports', { method: 'POST', body: form })
  const body = await response.json().catch(() => ({}))
  if (response.status !== 202) {
    $('problem').textContent = (body.title || 'Fehler') + ': ' + (body.detail || '') + (body.errors ? ' ' + body.errors.map((e) => e.pointer + ' ' + e.message).join('; ') : '')
    return
  }
  show(body)
  await watch(response.headers.get('Location'))
})
`
// Only this script may run, and it talks to its own origin only.
const IMPORT_CSP = pageCsp(IMPORT_SCRIPT)

const IMPORT_PAGE = `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>FreshPlan – Lead-Import</title>
<style>
body{font:15px system-ui;margin:2rem;color:#222;max-width:60rem}h1{margin:0 0 1rem}form{display:grid;grid-template-columns:12rem 1fr;gap:.6rem 1rem;align-items:center;margin-bottom:1.5rem}
label{font-weight:600}input[type=checkbox]{justify-self:start}button{grid-column:2;justify-self:start;padding:.4rem 1.2rem}textarea{font-family:ui-monospace,monospace;font-size:13px}
#status{font-weight:bold}#status.COMPLETED{color:#080}#status.FAILED{color:#b00}progress{width:100%;height:1.2rem}
table{border-collapse:collapse;margin-top:1rem}td,th{border:1px solid #ccc;padding:.3rem .7rem;text-align:left}th{background:#f4f4f4}
dl{display:grid;grid-template-columns:10rem 1fr;gap:.2rem 1rem}dt{color:#555}dd{margin:0}#problem{color:#b00}
</style></head><body>
<h1>Lead-Import</h1>
<p>CSV (UTF-8 oder Windows-1252, Trennzeichen <code>,</code> oder <code>;</code>) oder Excel (.xlsx, erstes Blatt), höchstens 10 MB. Spalten werden an ihren Überschriften erkannt (Firma, Ansprechpartner, E-Mail, Telefon, Straße, PLZ, Ort, Land, Branche, Notizen …).</p>
<form id="upload">
  <label for="file">Datei</label><input id="file" name="file" type="file" accept=".csv,.xlsx,text/csv" required>
  <label for="source">Quelle</label><select id="source" name="source">${LEAD_SOURCES.map((s) => `<option${s === 'SONSTIGES' ? ' selected' : ''}>${s}</option>`).join('')}</select>
  <label for="dryRun">Nur prüfen</label><input id="dryRun" name="dryRun" type="checkbox" value="true">
  <label for="mapping">Zuordnung (JSON, optional)</label><textarea id="mapping" name="mapping" rows="2" placeholder='{"Kunde": "companyName", "Intern": null}'></textarea>
  <button type="submit">Importieren</button>
</form>
<p id="problem" role="alert"></p>
<section id="result" hidden>
  <p>Import <code id="importId"></code>: <span id="status"></span></p>
  <progress id="progress" max="1" value="0"></progress>
  <dl><dt>Zeilen</dt><dd id="total">–</dd><dt>Verarbeitet</dt><dd id="processed">0</dd><dt>Angelegt</dt><dd id="created">0</dd>
  <dt>Dubletten</dt><dd id="duplicates">0</dd><dt>Fehlerhaft</dt><dd id="failed">0</dd><dt>Grund</dt><dd id="reason">–</dd></dl>
  <table id="errors" hidden><thead><tr><th>Zeile</th><th>Spalte</th><th>Meldung</th></tr></thead><tbody></tbody></table>
</section>
<script>${IMPORT_SCRIPT}</script></body></html>`

export function importPageRoutes(verify: TokenVerifier): Router {
  const router = new Router()
  router.get('/import', pageAccess(verify, 'SALES', 'MANAGER', 'ADMIN'), (ctx) => {
    sendPage(ctx, IMPORT_PAGE, IMPORT_CSP)
  })
  return router
}
