// §11 through the API: the dry run, reviews opened with the lead in one transaction, decisions,
// the NOT_DUPLICATE memory, who sees which review, and the duplicate_detected events.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { waitFor } from '../helpers/wait.ts'

let stack: Stack
let api: Api
const tokens: Record<string, string> = {}

test.before(async () => {
  stack = await startStack({ worker: true })
  api = apiClient(stack.baseUrl)
  tokens.manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'], tenant: 'matching' })
  tokens.managerDe = await tokenFor({ user: 'm2', role: 'MANAGER', territories: ['DE'], tenant: 'matching' })
  tokens.managerCh = await tokenFor({ user: 'm3', role: 'MANAGER', territories: ['CH'], tenant: 'matching' })
  tokens.sales1 = await tokenFor({ user: 's1', role: 'SALES', territories: ['DE'], tenant: 'matching' })
  tokens.sales2 = await tokenFor({ user: 's2', role: 'SALES', territories: ['DE'], tenant: 'matching' })
  tokens.salesCh = await tokenFor({ user: 's3', role: 'SALES', territories: ['CH'], tenant: 'matching' })
  tokens.other = await tokenFor({ user: 'o1', role: 'MANAGER', territories: ['DE', 'CH'], tenant: 'other-tenant' })
})
test.after.always(() => stack?.stop())

const FAIR = { companyName: 'Café Müller GmbH', phone: '030 1234567', street: 'Hauptstraße 5', postalCode: '10115', city: 'Berlin', contactName: 'Anna Müller', email: 'anna@cafe-mueller.de' }
const WEB = { companyName: 'Cafe Mueller', phone: '+49 30 1234567', street: 'Hauptstr. 5', postalCode: '10115', city: 'Berlin', email: 'info@cafe-mueller.de' }

async function create(token: string, body: object) {
  const response = await api('POST', '/api/leads', { token, body })
  if (response.status !== 201) throw new Error(`create: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}

test.serial('the dry run finds the café of the trade fair for the web form, writes nothing, and hides what the caller may not see', async (t) => {
  const fair = await create(tokens.sales1, FAIR)
  t.deepEqual(fair.possibleDuplicates, [])
  const hirsch = await create(tokens.sales1, { companyName: 'Gasthaus Goldener Hirsch', city: 'Bamberg', postalCode: '96049' })
  const before = await stack.owner.raw(`select (select count(*) from leads)::int as leads, (select count(*) from reviews)::int as reviews`)
  const own = await api('POST', '/api/leads/match', { token: tokens.sales1, body: WEB })
  t.is(own.status, 200)
  t.is(own.body.candidates.length, 1)
  t.like(own.body.candidates[0], { leadId: fair.id, companyName: 'Café Müller GmbH', territory: 'DE' })
  t.true(own.body.candidates[0].score >= 60)
  t.deepEqual([...own.body.candidates[0].reasons].sort(), ['ADDRESS', 'COMPANY_NAME', 'EMAIL_DOMAIN', 'PHONE'])
  // While a form is typed there is only a name: similar names anywhere (the trigram probe).
  const typing = await api('POST', '/api/leads/match', { token: tokens.sales1, body: { companyName: 'Goldner Hirsch' } })
  t.is(typing.status, 200)
  t.like(typing.body.candidates[0], { leadId: hirsch.id, reasons: ['COMPANY_NAME'] })
  // Another salesperson may not see s1's lead: score, reasons and territory only.
  const foreign = await api('POST', '/api/leads/match', { token: tokens.sales2, body: WEB })
  t.is(foreign.status, 200)
  t.deepEqual(Object.keys(foreign.body.candidates[0]).sort(), ['reasons', 'score', 'territory'])
  // Another tenant learns nothing.
  t.deepEqual((await api('POST', '/api/leads/match', { token: tokens.other, body: WEB })).body.candidates, [])
  const after = await stack.owner.raw(`select (select count(*) from leads)::int as leads, (select count(*) from reviews)::int as reviews`)
  t.deepEqual(after.rows, before.rows, 'the dry run writes nothing')
  // Bad input is a problem, as on create.
  const bad = await api('POST', '/api/leads/match', { token: tokens.sales1, body: { companyName: '' } })
  t.is(bad.status, 400)
})

test.serial('create → review OPEN with the expected candidates, possibleDuplicates in the 201 body, duplicate_detected event', async (t) => {
  const fair = (await stack.owner.raw(`select id from leads where company_name = 'Café Müller GmbH'`)).rows[0]
  const web = await create(tokens.sales1, WEB)
  t.is(web.possibleDuplicates.length, 1)
  t.like(web.possibleDuplicates[0], { leadId: fair.id, territory: 'DE' })
  const reviews = await api('GET', '/api/reviews?status=OPEN', { token: tokens.manager })
  t.is(reviews.status, 200)
  const review = reviews.body.data.find((r: { leadId: string }) => r.leadId === web.id)
  t.truthy(review)
  t.like(review, { status: 'OPEN', territory: 'DE' })
  t.deepEqual(review.candidates.map((c: { leadId: string }) => c.leadId), [fair.id])
  const events = await stack.owner.raw(`select data from lead_events where lead_id = ? and type = 'freshplan.lead.duplicate_detected'`, [web.id])
  t.is(events.rows.length, 1)
  t.is(events.rows[0].data.reviewId, review.id)
  // A lead like no other opens nothing.
  const lonely = await create(tokens.sales1, { companyName: 'Zzyzx Kantinenbetrieb', city: 'Rostock', postalCode: '18055' })
  t.deepEqual(lonely.possibleDuplicates, [])
  t.is((await stack.owner.raw(`select count(*)::int as n from reviews where lead_id = ?`, [lonely.id])).rows[0].n, 0)
})

test.serial('SALES sees only reviews of own leads; CH never sees DE; SALES may not decide', async (t) => {
  // s2 creates a lead that duplicates s1's: the review is of s2's lead.
  const s2lead = await create(tokens.sales2, { ...WEB, email: 'kueche@cafe-mueller.de', companyName: 'Café Mueller' })
  t.true(s2lead.possibleDuplicates.length >= 1)
  // s2 may not see s1's leads: the candidates come without id and name.
  for (const candidate of s2lead.possibleDuplicates) t.deepEqual(Object.keys(candidate).sort(), ['reasons', 'score', 'territory'])
  const s1Reviews = (await api('GET', '/api/reviews', { token: tokens.sales1 })).body.data
  const s2Reviews = (await api('GET', '/api/reviews', { token: tokens.sales2 })).body.data
  t.true(s1Reviews.length >= 1)
  t.true(s1Reviews.every((r: { leadId: string }) => r.leadId !== s2lead.id), 's1 does not see the review of s2\'s lead')
  t.deepEqual(s2Reviews.map((r: { leadId: string }) => r.leadId), [s2lead.id])
  const chLead = await create(tokens.salesCh, { companyName: 'Confiserie Sprüngli AG', phone: '044 224 46 46', countryCode: 'CH', city: 'Zürich', postalCode: '8001' })
  const chTwin = await create(tokens.salesCh, { companyName: 'Confiserie Spruengli', phone: '+41 44 224 46 46', countryCode: 'CH', city: 'Zuerich', postalCode: '8001' })
  t.is(chTwin.possibleDuplicates[0].leadId, chLead.id)
  const chReviews = (await api('GET', '/api/reviews', { token: tokens.managerCh })).body.data
  t.true(chReviews.length >= 1)
  t.true(chReviews.every((r: { territory: string }) => r.territory === 'CH'), 'CH sees no DE review')
  const deReviews = (await api('GET', '/api/reviews', { token: tokens.managerDe })).body.data
  t.true(deReviews.every((r: { territory: string }) => r.territory === 'DE'), 'DE sees no CH review')
  // A CH manager cannot decide a DE review: it does not exist for them.
  const deReview = deReviews[0]
  t.is((await api('POST', `/api/reviews/${deReview.id}/decision`, { token: tokens.managerCh, body: { decision: 'DISMISS' } })).status, 404)
  t.is((await api('POST', `/api/reviews/${deReview.id}/decision`, { token: tokens.sales1, body: { decision: 'DISMISS' } })).status, 403)
  // Other tenant: nothing.
  t.deepEqual((await api('GET', '/api/reviews', { token: tokens.other })).body.data, [])
})

test.serial('NOT_DUPLICATE: the pair never comes back, also after both leads change; a decided review is 409', async (t) => {
  const a = await create(tokens.manager, { companyName: 'Gasthaus zum Adler', phone: '089 7654321', postalCode: '80331', city: 'München', street: 'Marienplatz 1' })
  const b = await create(tokens.manager, { companyName: 'Gasthof Adler', phone: '+49 89 7654321', postalCode: '80331', city: 'Muenchen', street: 'Marienpl. 1' })
  t.deepEqual(b.possibleDuplicates.map((c: { leadId: string }) => c.leadId), [a.id])
  const review = (await api('GET', '/api/reviews?status=OPEN', { token: tokens.manager })).body.data.find((r: { leadId: string }) => r.leadId === b.id)
  const decided = await api('POST', `/api/reviews/${review.id}/decision`, { token: tokens.manager, body: { decision: 'NOT_DUPLICATE' } })
  t.is(decided.status, 200)
  t.like(decided.body, { status: 'NOT_DUPLICATE', decidedBy: 'm1' })
  t.is((await api('POST', `/api/reviews/${review.id}/decision`, { token: tokens.manager, body: { decision: 'DISMISS' } })).status, 409)
  // Both change what matching looks at: still never proposed to each other.
  const patchedA = await api('PATCH', `/api/leads/${a.id}`, { token: tokens.manager, body: { companyName: 'Gasthaus Adler', street: 'Marienplatz 2' }, headers: { 'if-match': '"1"' } })
  t.is(patchedA.status, 200)
  const patchedB = await api('PATCH', `/api/leads/${b.id}`, { token: tokens.manager, body: { companyName: 'Gasthaus Adler GmbH', street: 'Marienplatz 2' }, headers: { 'if-match': `"${(await api('GET', `/api/leads/${b.id}`, { token: tokens.manager })).body.version}"` } })
  t.is(patchedB.status, 200)
  const open = (await api('GET', '/api/reviews?status=OPEN', { token: tokens.manager })).body.data
  t.false(open.some((r: { leadId: string; candidates: { leadId: string }[] }) => (r.leadId === a.id && r.candidates.some((c) => c.leadId === b.id)) || (r.leadId === b.id && r.candidates.some((c) => c.leadId === a.id))))
  // An update that makes another lead look like them opens its review in the PATCH's transaction.
  const d = await create(tokens.manager, { companyName: 'Bäckerei Zeisig', postalCode: '80999', city: 'München' })
  t.deepEqual(d.possibleDuplicates, [])
  t.is((await api('PATCH', `/api/leads/${d.id}`, { token: tokens.manager, body: { companyName: 'Gasthaus Adler', phone: '089 7654321', postalCode: '80331', street: 'Marienplatz 2' }, headers: { 'if-match': '"1"' } })).status, 200)
  const dReview = (await api('GET', '/api/reviews?status=OPEN', { token: tokens.manager })).body.data.find((r: { leadId: string }) => r.leadId === d.id)
  t.deepEqual(dReview?.candidates.map((x: { leadId: string }) => x.leadId).sort(), [a.id, b.id].sort())
  // A third lead like both is still proposed with both.
  const c = await create(tokens.manager, { companyName: 'Gasthaus Adler', phone: '089 7654321', postalCode: '80331', city: 'München', street: 'Marienplatz 2' })
  t.deepEqual(c.possibleDuplicates.map((x: { leadId: string }) => x.leadId).sort(), [a.id, b.id, d.id].sort())
})

test.serial('a hard 409 emits duplicate_detected in a transaction of its own; metrics count reviews opened and decided', async (t) => {
  const holder = (await stack.owner.raw(`select id from leads where email = 'anna@cafe-mueller.de'`)).rows[0]
  const conflict = await api('POST', '/api/leads', { token: tokens.sales2, body: { companyName: 'Irgendwas', email: 'ANNA@cafe-mueller.de' } })
  t.is(conflict.status, 409)
  t.is(conflict.body.existingLeadId, undefined, 's2 may not see which lead holds the address')
  t.true(await waitFor(async () => (await stack.owner.raw(`select count(*)::int as n from lead_events where lead_id = ? and type = 'freshplan.lead.duplicate_detected' and (data->>'hard')::boolean`, [holder.id])).rows[0].n === 1, 5_000))
  const metrics = await (await fetch(`${stack.baseUrl}/metrics`)).text()
  t.regex(metrics, /freshplan_reviews_opened_total\{territory="DE"\} [1-9]/)
  t.regex(metrics, /freshplan_reviews_decided_total\{decision="NOT_DUPLICATE"\} 1/)
})

test.serial('MERGE merges the review\'s lead into the survivor (§12) and closes the review', async (t) => {
  const a = await create(tokens.manager, { companyName: 'Weinstube Rebstock', phone: '0761 3344556', postalCode: '79098', city: 'Freiburg', street: 'Münsterplatz 3' })
  const b = await create(tokens.manager, { companyName: 'Weinstube zum Rebstock GmbH', phone: '+49 761 3344556', postalCode: '79098', city: 'Freiburg im Breisgau', street: 'Münsterpl. 3' })
  t.deepEqual(b.possibleDuplicates.map((c: { leadId: string }) => c.leadId), [a.id])
  const review = (await api('GET', '/api/reviews?status=OPEN', { token: tokens.manager })).body.data.find((r: { leadId: string }) => r.leadId === b.id)
  t.is((await api('POST', `/api/reviews/${review.id}/decision`, { token: tokens.manager, body: { decision: 'MERGE', survivorId: '00000000-0000-4000-8000-000000000000' } })).status, 400)
  const merged = await api('POST', `/api/reviews/${review.id}/decision`, { token: tokens.manager, body: { decision: 'MERGE', survivorId: a.id } })
  t.is(merged.status, 200)
  t.like(merged.body, { status: 'MERGED', decidedBy: 'm1' })
  t.truthy(merged.body.mergeId)
  t.like((await api('GET', `/api/leads/${b.id}`, { token: tokens.manager })).body, { status: 'DELETED', mergedIntoId: a.id })
  t.is((await api('POST', `/api/reviews/${review.id}/decision`, { token: tokens.manager, body: { decision: 'MERGE' } })).status, 409)
})
