// §8's event metrics after real traffic: an API change is published (worker side) and consumed by
// the dashboard listener (web side), each counted with its labels; the dedupe cache and the latency
// histogram move with it.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor } from '../helpers/api.ts'
import { SseClient } from '../helpers/events.ts'
import { sample } from '../helpers/metrics.ts'

let stack: Stack
test.before(async () => {
  stack = await startStack({ worker: true })
})
test.after.always(() => stack?.stop())

test('after lead traffic /metrics has every §8 event metric with event_type, module and result', async (t) => {
  const token = await tokenFor({ user: 'metrics-m', role: 'MANAGER', territories: ['DE'] })
  const stream = await SseClient.connect(`${stack.baseUrl}/api/events/stream`, { token })
  const api = apiClient(stack.baseUrl)
  const created = await api('POST', '/api/leads', { token, body: { companyName: 'Metrik GmbH' } })
  await api('POST', `/api/leads/${created.body.id}/activities`, { token, body: { type: 'NOTE', summary: 'n' } })
  t.true(await stream.waitFor((c) => c.messages.filter((m) => m.event === 'freshplan.lead.activity_added').length === 1))
  await stream.close()
  // The publisher counts an event once its transaction has committed, and the commit's NOTIFY may
  // reach the listener (same process) first: wait for the count, within a bound.
  const published = (metrics: string) => (sample(metrics, 'freshplan_events_published', { event_type: 'freshplan.lead.activity_added', module: 'leads', result: 'success' }) ?? 0) >= 1
  let text = await (await fetch(`${stack.baseUrl}/metrics`)).text()
  for (const deadline = Date.now() + 5_000; !published(text) && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    text = await (await fetch(`${stack.baseUrl}/metrics`)).text()
  }
  for (const type of ['freshplan.lead.created', 'freshplan.lead.activity_added']) {
    t.true((sample(text, 'freshplan_events_published', { event_type: type, module: 'leads', result: 'success' }) ?? 0) >= 1, `published ${type}`)
    t.true((sample(text, 'freshplan_events_consumed', { event_type: type, module: 'dashboard', result: 'success' }) ?? 0) >= 1, `consumed ${type}`)
  }
  t.true((sample(text, 'freshplan_dedupe_cache_entries') ?? 0) >= 2)
  const hitRate = sample(text, 'freshplan_dedupe_cache_hit_rate')
  t.true(hitRate !== undefined && hitRate >= 0 && hitRate <= 1)
  t.true((sample(text, 'freshplan_event_latency_count') ?? 0) >= 2)
  t.regex(text, /# TYPE freshplan_event_latency histogram/)
  t.false(/^freshplan_events_(published|consumed)_total/m.test(text), 'counters without a _total suffix')
})
