// CPU seconds from /proc (Linux): of one process, and of the PostgreSQL backends serving one
// database. pg_stat_statements would give database time per statement, but it needs
// shared_preload_libraries and a restart of the shared server, which the bench may not do; the
// backends' own CPU counters are the next best thing (planning, execution, protocol, commit).
import { readFileSync } from 'node:fs'
import pg from 'pg'

const CLOCK_TICKS = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in these

export function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS // utime + stime
  } catch {
    return 0 // the process ended meanwhile
  }
}

/** CPU seconds per backend pid of `database` (owner connection; the querying backend excluded). */
export async function backendCpu(ownerUrl: string, database: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: ownerUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database])
    return new Map(rows.map((r) => [r.pid, cpuSecondsOf(r.pid)]))
  } finally {
    await client.end()
  }
}

/** CPU the backends of `before` spent since (backends that came and went in between are missed: pools keep theirs under load). */
export function backendCpuSince(before: Map<number, number>): number {
  let total = 0
  for (const [pid, seconds] of before) total += Math.max(0, cpuSecondsOf(pid) - seconds)
  return total
}

/** Transactions committed in `database` so far (pg_stat_database; the stats collector lags by up to 0.5 s). */
export async function committedTransactions(ownerUrl: string, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: ownerUrl })
  await client.connect()
  try {
    await client.query('select pg_stat_clear_snapshot()')
    const { rows } = await client.query<{ n: number }>('select xact_commit + xact_rollback as n from pg_stat_database where datname = $1', [database])
    return Number(rows[0]!.n)
  } finally {
    await client.end()
  }
}
