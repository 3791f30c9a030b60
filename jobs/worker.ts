import http from 'node:http'
import Koa from 'koa'
import { loadConfigOrExit } from '../lib/config.ts'
import { createLogger } from '../lib/logger.ts'
import { createKnex } from '../lib/db.ts'
import { systemClock } from '../lib/clock.ts'
import type { Deps } from '../lib/deps.ts'
import { releaseResources, startBoss } from './boss.ts'
import { JOBS, SCHEDULES, SERVICES, type JobDefinition, type ScheduleDefinition, type ServiceDefinition } from './registry.ts'
import { measureJob, metricsRoutes } from '../server/metrics.ts'
import { healthRoutes, type Lifecycle } from '../lib/health.ts'

export interface WorkerProcess {
  /** Stops the services (the caller then releases pg-boss, which lets running jobs finish, and the pool). */
  stop(): Promise<void>
}

/** A listener for /metrics and the probes (/health/live, /health/ready: database and pg-boss answer, not draining). */
async function serveMetrics(deps: Deps, port: number, lifecycle: Lifecycle): Promise<http.Server> {
  const app = new Koa()
  app.use(metricsRoutes(deps).routes())
  app.use(healthRoutes(deps, lifecycle).routes())
  const server = http.createServer(app.callback())
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
  const config = loadConfigOrExit()
  const logger = createLogger(config, 'worker')
  const knex = createKnex(config.appDatabaseUrl, { poolMax: config.dbPoolMax, applicationName: 'freshplan-worker' })
  const boss = await startBoss({ connectionString: config.appDatabaseUrl, logger, role: 'worker' })
  const worker = await startWorker({ config, knex, boss, logger, clock: systemClock })
  logger.info({ queues: JOBS.map((j) => j.queue) }, 'worker started')
  // Job outcomes and durations are counted here, in the worker; Prometheus scrapes them here too.
  const lifecycle: Lifecycle = { draining: false }
  const metricsServer = config.workerMetricsPort === 0 ? undefined : await serveMetrics({ config, knex, boss, logger, clock: systemClock }, config.workerMetricsPort, lifecycle)
  let shuttingDown = false
  // A second signal (the process group's and a supervisor's) must not cut the drain short.
  const shutdown = (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    logger.info({ signal }, 'worker shutting down')
    // The probes and /metrics stay up through the drain; readiness answers 503 DRAINING.
    lifecycle.draining = true
    worker
      .stop()
      .then(() => releaseResources({ config, knex, boss }))
      .then(() => void metricsServer?.close())
      .then(
      () => {
        logger.info('worker stopped')
        process.exit(0)
      },
      (error) => {
        logger.error({ err: error }, 'worker shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

if (import.meta.main) await main()
