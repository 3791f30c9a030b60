import http from 'node:http'
import type { Deps } from '../lib/deps.ts'
import { processDeps, stopGracefully } from '../lib/process.ts'
import { JOBS, SCHEDULES, SERVICES } from './registry.ts'
import { type JobDefinition, type ScheduleDefinition, type ServiceDefinition } from './definitions.ts'
import { measureJob, renderMetrics } from '../lib/metrics.ts'

export interface WorkerProcess {
  /** Stops the services (the caller then releases pg-boss, which lets running jobs finish, and the pool). */
  stop(): Promise<void>
}

/** A listener for GET /metrics only (the worker has no HTTP API). */
async function serveMetrics(deps: Deps, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
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
  for (const job of jobs) {
    // burstWhenReadyExceeds: with a backlog (the daily sweep, jobs piled up while workers were down)
    // fetch again at once instead of waiting a polling interval after every job; the benchmark
    // measured 0.5 jobs/s without it. The ready count comes from supervision (every 10 s).
    await deps.boss.work(job.queue, { batchSize: 1, burstWhenReadyExceeds: 1, ...job.work }, async (batch) => {
      const log = deps.logger.child({ queue: job.queue, jobIds: batch.map((j) => j.id) })
      try {
        return await measureJob(job.queue, batch.length, () => job.handle(deps, batch))
      } catch (error) {
        log.warn({ err: error }, 'job failed; pg-boss will retry it')
        throw error
      }
    })
  }
  for (const schedule of schedules) await deps.boss.schedule(schedule.queue, schedule.cron, schedule.data ?? {})
  const running = services.map((service) => service.start(deps))
  return { stop: async () => void (await Promise.all(running.map((service) => service.stop()))) }
}

async function main(): Promise<void> {
  const deps = await processDeps('worker')
  const worker = await startWorker(deps)
  deps.logger.info({ queues: JOBS.map((j) => j.queue) }, 'worker started')
  // Job outcomes and durations are counted here, in the worker; Prometheus scrapes them here too.
  const metricsServer = deps.config.workerMetricsPort === 0 ? undefined : await serveMetrics(deps, deps.config.workerMetricsPort)
  stopGracefully(deps, 'worker', async () => {
    metricsServer?.close()
    await worker.stop()
  })
}

if (import.meta.main) await main()
