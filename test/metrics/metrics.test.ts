import test from 'ava'
import { sample } from '../helpers/metrics.ts'
import { spawnSync } from 'node:child_process'
import { eventsConsumed, eventLatency, renderMetrics } from '../../lib/metrics.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { waitFor } from '../helpers/wait.ts'

const WORKED = 'metrics.worked'
const IDLE = 'metrics.idle'
let stack: Stack

test.before(async () => {
  stack = await startStack({
    worker: true,
    queues: [
      { name: WORKED, retryLimit: 0 },
      { name: IDLE, retryLimit: 0 },
    ],
    jobs: [
      {
        queue: WORKED,
        work: { pollingIntervalSeconds: 0.5 },
        handle: async (_deps, jobs) => {
          if (jobs.some((job) => (job.data as { fail?: boolean }).fail)) throw new Error('asked to fail')
        },
      },
    ],
  })
})
test.after.always(() => stack?.stop())


async function scrape(): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${stack.baseUrl}/metrics`)
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() }
}

test.serial('after traffic and processed jobs, /metrics has HTTP, job, queue and pool metrics with bounded labels', async (t) => {
  for (let i = 0; i < 3; i++) await fetch(`${stack.baseUrl}/health/live`)
  await fetch(`${stack.baseUrl}/leads/12345/secret-path`) // unknown route
  const succeeded = (await stack.deps.boss.send(WORKED, { fail: false }))!
  const failed = (await stack.deps.boss.send(WORKED, { fail: true }))!
  await stack.deps.boss.send(IDLE, { later: true }, { startAfter: 3600 })
  const stateOf = async (id: string) => (await stack.deps.boss.findJobs(WORKED, { id }))[0]?.state
  t.true(await waitFor(async () => (await stateOf(succeeded)) === 'completed' && (await stateOf(failed)) === 'failed', 10_000))
  // pg-boss's queue counts are what its monitor last wrote; a forced read writes them now.
  await stack.deps.boss.getQueueStats(IDLE, { force: true })

  const { status, type, text } = await scrape()
  t.is(status, 200)
  t.regex(type ?? '', /^text\/plain; version=0\.0\.4/)

  t.is(sample(text, 'freshplan_http_request_duration_seconds_count', { method: 'GET', route: '/health/live', status: '200' }), 3)
  t.is(sample(text, 'freshplan_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' }), 1)
  t.false(text.includes('secret-path'), 'raw paths never become labels')

  t.is(sample(text, 'freshplan_jobs_processed_total', { queue: WORKED, result: 'success' }), 1)
  t.is(sample(text, 'freshplan_jobs_processed_total', { queue: WORKED, result: 'failure' }), 1)
  t.is(sample(text, 'freshplan_job_duration_seconds_count', { queue: WORKED }), 2)
  t.regex(text, /# TYPE freshplan_jobs_processed_total counter/)

  // The queue depth is global: a web process leaves it out, a worker process exports it.
  t.false(text.includes('freshplan_queue_jobs'), 'web /metrics has no queue depth')
  const worker = (await renderMetrics(stack.deps, { queueDepth: true }, (error) => t.fail(String(error)))).body
  const [idle] = await stack.deps.boss.getQueues([IDLE])
  t.is(sample(worker, 'freshplan_queue_jobs', { queue: IDLE, state: 'deferred' }), 1)
  t.is(sample(worker, 'freshplan_queue_jobs', { queue: IDLE, state: 'queued' }), idle!.queuedCount)
  t.is(sample(worker, 'freshplan_queue_jobs', { queue: IDLE, state: 'ready' }), idle!.readyCount)
  for (const state of ['queued', 'ready', 'deferred', 'blocked', 'active', 'failed', 'total']) {
    t.not(sample(worker, 'freshplan_queue_jobs', { queue: WORKED, state }), undefined, state)
  }
  t.regex(worker, /max by \(queue, state\)/, 'the help text says how to aggregate it')

  t.true((sample(text, 'freshplan_db_pool_connections', { pool: 'app', state: 'free' }) ?? -1) >= 0)
  t.is(sample(text, 'freshplan_db_pool_max_connections', { pool: 'app' }), stack.config.dbPoolMax)
  t.not(sample(text, 'freshplan_db_pool_connections', { pool: 'pgboss', state: 'used' }), undefined)
  t.not(sample(text, 'process_cpu_user_seconds_total'), undefined, 'default process metrics')
  t.not(sample(text, 'nodejs_eventloop_lag_seconds'), undefined)
})

test.serial('the event metrics of §8 are registered with their exact names and labels, counters without _total', async (t) => {
  eventsConsumed.inc({ event_type: 'lead.created', module: 'followups', result: 'duplicate' })
  eventLatency.observe(0.3)
  const { text } = await scrape()
  for (const [name, type] of [
    ['freshplan_events_published', 'counter'],
    ['freshplan_events_consumed', 'counter'],
    ['freshplan_dedupe_cache_entries', 'gauge'],
    ['freshplan_dedupe_cache_hit_rate', 'gauge'],
    ['freshplan_event_latency', 'histogram'],
  ]) {
    t.regex(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name)
  }
  t.is(sample(text, 'freshplan_events_consumed', { event_type: 'lead.created', module: 'followups', result: 'duplicate' }), 1)
  for (const name of ['freshplan_events_published', 'freshplan_events_consumed']) t.false(text.includes(`${name}_total`), `${name} keeps the name §8 gives it`)
  t.is(sample(text, 'freshplan_event_latency_count'), 1)
  t.is(sample(text, 'freshplan_event_latency_bucket', { le: '0.5' }), 1)
  t.is(sample(text, 'freshplan_dedupe_cache_entries'), 0)
})

test.serial('scrapes of /metrics are labelled with their route, and no other label appears', async (t) => {
  await fetch(`${stack.baseUrl}/metrics`)
  const { text } = await scrape()
  t.true((sample(text, 'freshplan_http_request_duration_seconds_count', { method: 'GET', route: '/metrics', status: '200' }) ?? 0) >= 1)
  const routes = [...text.matchAll(/freshplan_http_request_duration_seconds_count\{[^}]*route="([^"]*)"/g)].map((match) => match[1])
  t.deepEqual([...new Set(routes)].sort(), ['/health/live', '/metrics', 'unmatched'])
})

/**
 * promtool (Prometheus's own linter) finds nothing in web's or a worker's metrics but the two
 * counters §8 names without `_total`.
 */
test.serial('promtool check metrics: clean except the two counter names §8 fixes', async (t) => {
  const promtool = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool'
  const web = (await scrape()).text
  const worker = (await renderMetrics(stack.deps, { queueDepth: true }, (error) => t.fail(String(error)))).body
  for (const [who, text] of [['web', web], ['worker', worker]] as const) {
    const result = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    t.is(result.error, undefined, `promtool runs (npm test installs Debian's prometheus package; or set PROMTOOL_PATH)`)
    const findings = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '')
    t.deepEqual(
      findings.filter((line) => !/^freshplan_events_(published|consumed) counter metrics should have "_total" suffix$/.test(line)),
      [],
      `${who}: ${findings.join(' | ')}`,
    )
    t.true(findings.some((line) => line.startsWith('freshplan_events_')), `${who}: promtool did read the metrics`)
  }
})
