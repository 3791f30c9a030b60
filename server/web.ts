import http from 'node:http'
import type { Router } from '@koa/router'
import { loadConfigOrExit } from '../lib/config.ts'
import { createLogger } from '../lib/logger.ts'
import { createKnex } from '../lib/db.ts'
import { systemClock } from '../lib/clock.ts'
import type { Deps } from '../lib/deps.ts'
import { releaseResources, startBoss } from '../jobs/boss.ts'
import { createApp, type AppOptions } from './app.ts'
import type { Lifecycle } from '../lib/health.ts'
import { eventRoutes, type EventStreamOptions } from './routes/events.ts'
import { startEventListener, type DashboardEventListener, type EventListenerOptions } from './event-listener.ts'
import { createTokenVerifier } from './auth.ts'
import { queueBoard } from './routes/queue-board.ts'
import { pageAccess } from './routes/session.ts'

export interface WebProcess {
  server: http.Server
  port: number
  /** The dashboard event listener of this process (§7). */
  events: DashboardEventListener
  /** Stop accepting and let in-flight requests finish (the caller then releases pg-boss and the pool). */
  drain(): Promise<void>
}

export interface WebOptions extends AppOptions {
  /** The dashboard event listener and SSE stream (§7). */
  events?: EventListenerOptions & EventStreamOptions
}

export async function startWeb(deps: Deps, extraRouters: readonly Router[] = [], options: WebOptions = {}): Promise<WebProcess> {
  const lifecycle: Lifecycle = { draining: false }
  const verify = options.verify ?? createTokenVerifier(deps.config.auth)
  const board = options.queueBoard ?? (await queueBoard({ boss: deps.boss, authorize: pageAccess(verify, 'ADMIN') }))
  // One listener per web process feeds all of its SSE streams.
  const events = await startEventListener(deps, options.events)
  const eventApi = eventRoutes(deps, events, options.events)
  const app = createApp(deps, lifecycle, [...extraRouters, eventApi.router], { ...options, verify, queueBoard: board })
  const handle = app.callback()
  // While draining, every response closes its connection: a busy keep-alive client would otherwise
  // keep the server open until the shutdown timeout, whose closeAllConnections cuts requests mid-flight.
  const server = http.createServer((req, res) => {
    if (lifecycle.draining) res.setHeader('Connection', 'close')
    return handle(req, res)
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve) => server.listen(deps.config.port, resolve))
  const port = (server.address() as { port: number }).port
  let draining: Promise<void> | undefined
  const drain = () =>
    (draining ??= (async () => {
      lifecycle.draining = true
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // SSE streams never finish by themselves; their clients resume elsewhere with Last-Event-ID.
      eventApi.closeStreams()
      server.closeIdleConnections()
      const timer = setTimeout(() => server.closeAllConnections(), deps.config.shutdownTimeoutMs)
      await closed
      clearTimeout(timer)
      await events.stop()
    })())
  return { server, port, events, drain }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit()
  const logger = createLogger(config, 'web')
  const knex = createKnex(config.appDatabaseUrl, { poolMax: config.dbPoolMax, applicationName: 'freshplan-web' })
  const boss = await startBoss({ connectionString: config.appDatabaseUrl, logger, role: 'web' })
  const web = await startWeb({ config, knex, boss, logger, clock: systemClock })
  logger.info({ port: web.port }, 'web listening')
  let shuttingDown = false
  // A second signal (the process group's and a supervisor's) must not cut the drain short.
  const shutdown = (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    logger.info({ signal }, 'web shutting down')
    web
      .drain()
      .then(() => releaseResources({ config, knex, boss }))
      .then(
      () => {
        logger.info('web stopped')
        process.exit(0)
      },
      (error) => {
        logger.error({ err: error }, 'web shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

if (import.meta.main) await main()
