// What `web` and `worker` share as processes: building their dependencies from the configuration,
// and a graceful stop on SIGTERM/SIGINT that drains first, then releases pg-boss and the pool.
import { systemClock } from './clock.ts'
import { loadConfigOrExit } from './config.ts'
import { createKnex } from './db.ts'
import type { Deps } from './deps.ts'
import { createLogger } from './logger.ts'
import { releaseResources, startBoss } from './boss.ts'

export type ProcessName = 'web' | 'worker'

/**
 * The configuration, logger, pool and pg-boss of one process: `web` connects as the application
 * role, `worker` as the worker role, the one login that may act as SYSTEM and across tenants (V0008).
 */
export async function processDeps(name: ProcessName): Promise<Deps> {
  const config = loadConfigOrExit(process.env, { worker: name === 'worker' })
  const logger = createLogger(config, name)
  const url = name === 'worker' ? config.workerDatabaseUrl! : config.appDatabaseUrl
  const knex = createKnex(url, { poolMax: config.dbPoolMax, applicationName: `freshplan-${name}` })
  const boss = await startBoss({ connectionString: url, logger, role: name })
  return { config, knex, boss, logger, clock: systemClock }
}

/**
 * On SIGTERM or SIGINT: `drain` (stop taking work, let in-flight work finish), then release pg-boss
 * and the pool, then exit 0 (1 when that failed). A second signal (the process group's and a
 * supervisor's) must not cut the drain short, so it is ignored.
 */
export function stopGracefully(deps: Deps, name: ProcessName, drain: () => Promise<void>): void {
  let shuttingDown = false
  const shutdown = (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    deps.logger.info({ signal }, `${name} shutting down`)
    drain()
      .then(() => releaseResources(deps))
      .then(
        () => {
          deps.logger.info(`${name} stopped`)
          process.exit(0)
        },
        (error: unknown) => {
          deps.logger.error({ err: error }, `${name} shutdown failed`)
          process.exit(1)
        },
      )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}
