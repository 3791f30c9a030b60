// A whole service for a test file: its own database, the app role's knex and pg-boss, the web
// edge on a free port and (optionally) workers — the same pieces `npm start` wires, in-process.
import type { Queue } from 'pg-boss'
import type { Router } from '@koa/router'
import { loadConfig, type Config } from '../../lib/config.ts'
import { createKnex, type Knex } from '../../lib/db.ts'
import { createLogger } from '../../lib/logger.ts'
import { ManualClock, systemClock, type Clock } from '../../lib/clock.ts'
import type { Deps } from '../../lib/deps.ts'
import { releaseResources, startBoss } from '../../lib/boss.ts'
import { QUEUES } from '../../lib/queues.ts'
import { JOBS, SCHEDULES, SERVICES } from '../../jobs/registry.ts'
import { type JobDefinition, type ScheduleDefinition, type ServiceDefinition } from '../../jobs/definitions.ts'
import { startWorker } from '../../jobs/worker.ts'
import { startWeb, type WebOptions, type WebProcess } from '../../server/web.ts'
import type { AppOptions } from '../../server/app.ts'
import { createTestDatabase, type TestDatabase } from './database.ts'

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789'

export interface StackOptions {
  env?: Record<string, string>
  clock?: Clock
  web?: boolean
  worker?: boolean
  jobs?: readonly JobDefinition<any>[]
  schedules?: readonly ScheduleDefinition[]
  /** Loops of the worker process (default: all, e.g. the outbox relay). */
  services?: readonly ServiceDefinition[]
  queues?: readonly Queue[]
  /** Extra routes for tests of the edge itself (a route that throws, a slow route). */
  routers?: readonly Router[]
  /** Options of the dashboard event listener and SSE stream (short heartbeats, fast reconnects). */
  events?: WebOptions['events']
  /** Optional parts of the edge, built once pg-boss runs (e.g. the queue board). */
  app?: (deps: Deps) => AppOptions | Promise<AppOptions>
}

export interface Stack {
  db: TestDatabase
  config: Config
  /**
   * The worker's dependencies (knex as the worker role, which may act as SYSTEM): what jobs and
   * tests that call models or handlers directly use. The web edge runs on `webDeps`.
   */
  deps: Deps
  /** The web's dependencies: knex as the application role, like `server/web.ts`. */
  webDeps: Deps
  /** Owner connection for set-up and assertions that must see through RLS. */
  owner: Knex
  web?: WebProcess
  baseUrl: string
  stop(): Promise<void>
}

export function testConfig(db: TestDatabase, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.ownerUrl,
    APP_DATABASE_URL: db.appUrl,
    WORKER_DATABASE_URL: db.workerUrl,
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...env,
  })
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const db = await createTestDatabase()
  const config = testConfig(db, options.env)
  const logger = createLogger(config, 'test')
  const knex = createKnex(config.workerDatabaseUrl!, { poolMax: config.dbPoolMax })
  const webKnex = createKnex(config.appDatabaseUrl, { poolMax: config.dbPoolMax })
  const owner = createKnex(db.ownerUrl, { poolMax: 4 })
  const queues = [...Object.values(QUEUES), ...(options.queues ?? [])]
  const boss = await startBoss({ connectionString: config.appDatabaseUrl, logger, role: options.worker ? 'worker' : 'web', queues })
  const deps: Deps = { config, knex, boss, logger, clock: options.clock ?? systemClock }
  const webDeps: Deps = { ...deps, knex: webKnex }
  const web = options.web === false ? undefined : await startWeb(webDeps, options.routers, { ...(await options.app?.(webDeps)), events: options.events })
  const worker = options.worker ? await startWorker(deps, options.jobs ?? JOBS, options.schedules ?? SCHEDULES, options.services ?? SERVICES) : undefined
  let stopped = false
  return {
    db,
    config,
    deps,
    webDeps,
    owner,
    web,
    baseUrl: web ? `http://127.0.0.1:${web.port}` : '',
    async stop() {
      if (stopped) return
      stopped = true
      await web?.drain()
      await worker?.stop()
      await releaseResources(deps)
      await webKnex.destroy()
      await owner.destroy()
      await db.drop()
    },
  }
}

export { ManualClock }
