import type { Config } from './config.ts'
import type { Knex } from './db.ts'
import type { Logger } from './logger.ts'
import type { Clock } from './clock.ts'
import type { PgBoss } from './boss.ts'

/** What a process hands to its routes and job handlers; built once at start-up. */
export interface Deps {
  config: Config
  /** Connected as the application role: every query runs under row-level security. */
  knex: Knex
  boss: PgBoss
  logger: Logger
  clock: Clock
}
