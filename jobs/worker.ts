import http from 'node:http'
import type { Deps } from '../lib/deps.ts'
import { processDeps, stopGracefully } from '../lib/process.ts'
import { JOBS, SCHEDULES, SERVICES } from './registry.ts'
import { type JobDefinition, type ScheduleDefinition, type ServiceDefinition } from './definitions.ts'
import { measureJob, renderMetrics } from '../lib/metrics.ts'
import { readiness } from '../lib/health.ts'
import { watchReadyQueues } from '../lib/boss.ts'
import { BACKSTOP_WORK, READY_QUEUES_POLL_MS } from '../lib/queues.ts'

export interface WorkerProcess {
  /** Stops the services (the caller then releases pg-boss, which lets running jobs finish, and the pool). */
  stop(): Promise<void>
}

/**
 * The worker's one listener (it has no HTTP API): GET /metrics, and the probes Kubernetes asks on
 * the same port — /health/live (the process answers) and /health/ready (PostgreSQL and pg-boss
 * answer and the worker is not draining), with the bodies of web's probes.
 */
async function serveMetrics(deps: Deps, port: number, lifecycle: { draining: boolean }): Promise<http.Server> {
  const json = (res: http.ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0]
    if (req.method === 'GET' && path === '/health/live') return json(res, 200, { status: 'UP' })
    if (req.method === 'GET' && path === '/health/ready') {
      readiness(deps, lifecycle.draining).then(
        (ready) => json(res, ready.httpStatus, ready.body),
        (error: unknown) => {
          deps.logger.error({ err: error }, 'readiness not checked')
          json(res, 500, { status: 'DOWN' })
        },
      )
      return
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    renderMetrics(deps, { queueDepth: true }, (error) => deps.logger.warn({ err: error }, 'queue depth not collected for /metrics')).then(
      (metrics) => res.writeHead(200, { 'content-type': metrics.contentType }).end(metrics.body),
      (error: unknown) => {
        deps.logger.error({ err: error }, 'metrics not rendered')
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n')
      },
    )
  })
  await new Promise<void>((resolve) => server.listen(port, resolve))
  return server
}

export async function startWorker(
  deps: Deps,
  jobs: readonly JobDefinition<any>[] = JOBS,
  schedules: readonly ScheduleDefinition[] = SCHEDULES,
  services: readonly ServiceDefinition[] = SERVICES,
): Promise<WorkerProcess> {
  const workerIds = new Map<string, string>()
  for (const job of jobs) {
    // The id is known once work() returns, before any fetch has come back with a job.
    const worker: { id?: string } = {}
    worker.id = await deps.boss.work(job.queue, { batchSize: 1, ...BACKSTOP_WORK, ...job.work }, async (batch) => {
      const log = deps.logger.child({ queue: job.queue, jobIds: batch.map((j) => j.id) })
      try {
        return await measureJob(job.queue, batch.length, () => job.handle(deps, batch))
      } catch (error) {
        log.warn({ err: error }, 'job failed; pg-boss will retry it')
        throw error
      } finally {
        // Fetch again at once: with a backlog (the daily sweep, jobs piled up while workers were
        // down, a slice's continuation) the next job is there; only an empty fetch waits.
        if (worker.id !== undefined) deps.boss.notifyWorker(worker.id)
      }
    })
    workerIds.set(job.queue, worker.id)
  }
  const watcher = watchReadyQueues(deps.boss, workerIds, READY_QUEUES_POLL_MS, (error) => deps.logger.warn({ err: error }, 'ready queues not polled; retrying'))
  for (const schedule of schedules) await deps.boss.schedule(schedule.queue, schedule.cron, schedule.data ?? {})
  const running = services.map((service) => service.start(deps))
  return {
    stop: async () => {
      watcher.stop()
      await Promise.all(running.map((service) => service.stop()))
    },
  }
}

async function main(): Promise<void> {
  const deps = await processDeps('worker')
  const worker = await startWorker(deps)
  deps.logger.info({ queues: JOBS.map((j) => j.queue) }, 'worker started')
  // Job outcomes and durations are counted here, in the worker; Prometheus scrapes them here too.
  const lifecycle = { draining: false }
  // The listener stays up through the whole drain, running jobs included (Prometheus keeps scraping,
  // readiness answers 503 DRAINING); it ends with the process.
  if (deps.config.workerMetricsPort !== 0) await serveMetrics(deps, deps.config.workerMetricsPort, lifecycle)
  stopGracefully(deps, 'worker', async () => {
    lifecycle.draining = true
    await worker.stop()
  })
}

if (import.meta.main) await main()
