// Readiness of a process (web and worker alike): can it reach PostgreSQL and pg-boss right now?
import type { Deps } from './deps.ts'

export type CheckState = 'UP' | 'DOWN'
export interface ReadinessChecks {
  database: CheckState
  queue: CheckState
}

/** Each dependency answers within 2 s, or counts as down. */
export async function checkReadiness(deps: Pick<Deps, 'knex' | 'boss'>, timeoutMs = 2000): Promise<ReadinessChecks> {
  const [database, queue] = await Promise.allSettled([
    withTimeout(deps.knex.raw('select 1'), timeoutMs),
    withTimeout(deps.boss.schemaVersion(), timeoutMs),
  ])
  return {
    database: database.status === 'fulfilled' ? 'UP' : 'DOWN',
    queue: queue.status === 'fulfilled' && queue.value !== null ? 'UP' : 'DOWN',
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
