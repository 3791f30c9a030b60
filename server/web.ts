import http from 'node:http'
import type { Router } from '@koa/router'
import type { Deps } from '../lib/deps.ts'
import { processDeps, stopGracefully } from '../lib/process.ts'
import { createApp, type AppOptions } from './app.ts'
import type { Lifecycle } from './routes/health.ts'
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
  // Slow clients: headers within HTTP_HEADERS_TIMEOUT_MS, the whole request within
  // HTTP_REQUEST_TIMEOUT_MS, checked every second (node: 60 s / 300 s, checked every 30 s). Both
  // bound receiving a request, not sending a response, so SSE streams are not cut.
  const timeouts = { headersTimeout: deps.config.httpHeadersTimeoutMs, requestTimeout: deps.config.httpRequestTimeoutMs, connectionsCheckingInterval: 1000 }
  const server = http.createServer(timeouts, (req, res) => {
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
  const deps = await processDeps('web')
  const web = await startWeb(deps)
  deps.logger.info({ port: web.port }, 'web listening')
  stopGracefully(deps, 'web', web.drain)
}

if (import.meta.main) await main()
