import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api
let manager: string

test.before(async () => {
  stack = await startStack({ env: { DB_POOL_MAX: '20' } })
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'], tenant: 'lists' })
})
test.after.always(() => stack?.stop())

test.serial('two PATCHes with the same If-Match: exactly one 200 and one 412', async (t) => {
  for (let round = 0; round < 10; round++) {
    const created = await api('POST', '/api/leads', { token: manager, body: { companyName: `Race ${round}` } })
    const path = `/api/leads/${created.body.id}`
    const responses = await Promise.all(
      ['A', 'B'].map((city) => api('PATCH', path, { token: manager, body: { city }, headers: { 'if-match': '"1"' } })),
    )
    t.deepEqual(responses.map((r) => r.status).sort(), [200, 412])
    const lead = (await api('GET', path, { token: manager })).body
    t.is(lead.version, 2)
    t.is(lead.city, responses.find((r) => r.status === 200)!.body.city)
  }
})

test.serial('cursor pagination returns every lead exactly once while leads are inserted concurrently', async (t) => {
  const seeded = new Set<string>()
  for (let batch = 0; batch < 6; batch++) {
    const created = await Promise.all(Array.from({ length: 25 }, (_, i) => api('POST', '/api/leads', { token: manager, body: { companyName: `Page ${batch}-${i}`, countryCode: i % 3 === 0 ? 'CH' : 'DE' } })))
    for (const response of created) seeded.add(response.body.id)
  }
  for (const sort of ['-createdAt', 'createdAt', 'companyName', '-companyName', 'status', '-lastActivityAt']) {
    let inserting = true
    const inserter = (async () => {
      let n = 0
      while (inserting) await api('POST', '/api/leads', { token: manager, body: { companyName: `Concurrent ${sort} ${n++}` } })
      return n
    })()
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query: string = `/api/leads?limit=17&sort=${encodeURIComponent(sort)}${cursor ? `&cursor=${cursor}` : ''}`
      const page = await api('GET', query, { token: manager })
      t.is(page.status, 200)
      seen.push(...page.body.data.map((l: { id: string }) => l.id))
      cursor = page.body.nextCursor
      pages++
    } while (cursor && pages < 200)
    inserting = false
    const inserted = await inserter
    t.true(inserted > 0)
    t.is(new Set(seen).size, seen.length, `no lead twice with sort ${sort}`)
    for (const id of seeded) t.true(seen.includes(id), `lead ${id} missing with sort ${sort}`)
  }
})

test.serial('includeTotal counts the filtered leads; filters combine', async (t) => {
  const all = await api('GET', '/api/leads?includeTotal=true&limit=1&q=Page', { token: manager })
  t.is(all.body.total, 150)
  const ch = await api('GET', '/api/leads?includeTotal=true&limit=1&q=Page&territory=CH', { token: manager })
  t.is(ch.body.total, 54) // i % 3 === 0 for i < 25: 9 per batch of 25, 6 batches
  const none = await api('GET', '/api/leads?includeTotal=true&q=Page&status=LOST', { token: manager })
  t.is(none.body.total, 0)
  t.deepEqual(none.body.data, [])
  t.is(none.body.nextCursor, null)
})

test.serial('q is case-insensitive over company, contact, e-mail and city', async (t) => {
  await api('POST', '/api/leads', { token: manager, body: { companyName: 'Zum Goldenen Hirsch', contactName: 'Erika Mustermann', email: 'erika@hirsch.example', city: 'Würzburg' } })
  for (const q of ['goldenen HIRSCH', 'MUSTERMANN', 'Erika@Hirsch', 'würzburg']) {
    const response = await api('GET', `/api/leads?q=${encodeURIComponent(q)}`, { token: manager })
    t.deepEqual(response.body.data.map((l: { companyName: string }) => l.companyName), ['Zum Goldenen Hirsch'], q)
  }
})

test.serial('q is safe against SQL and LIKE metacharacters', async (t) => {
  await api('POST', '/api/leads', { token: manager, body: { companyName: '100% Bio_Markt' } })
  const hostile = ["'", "' or '1'='1", '%', '_', '\\', "'; drop table leads; --", '%_%', '100%', 'Bio_M']
  for (const q of hostile) {
    const response = await api('GET', `/api/leads?q=${encodeURIComponent(q)}&limit=200`, { token: manager })
    t.is(response.status, 200, q)
    const names = response.body.data.map((l: { companyName: string }) => l.companyName)
    t.true(names.every((name: string) => name.toLowerCase().includes(q.toLowerCase())), `${q} → ${names.join(', ')}`)
  }
  t.is((await api('GET', `/api/leads?q=${encodeURIComponent('100%')}`, { token: manager })).body.data.length, 1)
  t.is((await stack.owner.raw('select count(*)::int as n from leads')).rows[0].n > 150, true)
})

test.serial('a cursor from another sort, or a forged one, is a 400', async (t) => {
  const page = await api('GET', '/api/leads?limit=1&sort=companyName', { token: manager })
  const other = await api('GET', `/api/leads?limit=1&sort=-createdAt&cursor=${page.body.nextCursor}`, { token: manager })
  t.is(other.status, 400)
  t.is(other.body.errors[0].pointer, '/query/cursor')
  const forged = await api('GET', `/api/leads?cursor=${Buffer.from('{"s":"-createdAt","v":"x\'","id":"1"}').toString('base64url')}`, { token: manager })
  t.is(forged.status, 400)
})

test.serial('activities are listed newest first with a cursor', async (t) => {
  const created = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Timeline' } })
  const path = `/api/leads/${created.body.id}/activities`
  for (let day = 1; day <= 7; day++) await api('POST', path, { token: manager, body: { type: 'NOTE', summary: `day ${day}`, occurredAt: `2026-11-0${day}T10:00:00Z` } })
  const summaries: string[] = []
  let cursor: string | null = null
  do {
    const page: { body: { data: { summary: string }[]; nextCursor: string | null } } = await api('GET', `${path}?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: manager })
    summaries.push(...page.body.data.map((a: { summary: string }) => a.summary))
    cursor = page.body.nextCursor
  } while (cursor)
  t.deepEqual(summaries.slice(1), ['day 7', 'day 6', 'day 5', 'day 4', 'day 3', 'day 2', 'day 1'])
  t.regex(summaries[0]!, /Lead created/)
})
