// Where the CPU of a request goes (a profiling aid, not part of `npm run bench`):
//   node bench/cpu-split.ts create|get [--cpu-prof]
// Runs 10 s of saturation (autocannon, 16 connections, after 3 s of warm-up) against the web
// process and prints the CPU seconds spent by that process, by all PostgreSQL processes and by
// this load generator, per request (from /proc, so Linux only). With `--cpu-prof` the web process
// writes a V8 CPU profile to bench/results/profiles/. Where PostgreSQL has pg_stat_statements
// loaded (shared_preload_libraries, track_planning on), it also prints plan and execution time per
// statement and request — how the prepared statements of lib/db.ts were found.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import type { RequestParams } from 'autocannon'
import { createTestDatabase, SERVER_URL } from '../test/helpers/database.ts'
import { tokenFor } from '../test/helpers/api.ts'
import { runLoad, type LoadSpec } from './lib/load.ts'
import { startService, ROOT } from './lib/processes.ts'
import { sampleLeadIds, seedLeads } from './lib/seed.ts'
import { leadBody } from './scenarios/create.ts'

const CLOCK_TICKS = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in these

function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS // utime + stime
  } catch {
    return 0 // the process ended meanwhile
  }
}

function postgresCpuSeconds(): number {
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/stat`, 'utf8').includes('(postgres)')) total += cpuSecondsOf(Number(entry))
    } catch {
      // the process ended meanwhile
    }
  }
  return total
}

const kind = process.argv[2] === 'get' ? 'get' : 'create'
const db = await createTestDatabase()
const admin = new pg.Client({ connectionString: SERVER_URL })
await admin.connect()
try {
  if (kind === 'get') await seedLeads(db.ownerUrl, 1, 10_000)
  const ids = kind === 'get' ? await sampleLeadIds(db.ownerUrl, 1000) : []
  const service = await startService(db, process.argv.includes('--cpu-prof') ? { cpuProfileDir: path.join(ROOT, 'bench', 'results', 'profiles') } : {})
  const run = randomBytes(4).toString('hex')
  const token = await tokenFor({ user: 'bench-creator', role: kind === 'get' ? 'MANAGER' : 'SALES', territories: ['DE', 'CH'] })
  let n = 0
  const spec: Omit<LoadSpec, 'connections'> = kind === 'create'
    ? {
        url: `${service.baseUrl}/api/leads`,
        method: 'POST',
        setupRequest: (request: RequestParams) => {
          const i = n++
          // The create scenario's bodies: with one postal code, phone and domain for all (as here
          // before), every create's §11 postal probe ranked the whole table by trigram similarity.
          return { ...request, method: 'POST', path: '/api/leads', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `k-${run}-${i}` }, body: JSON.stringify(leadBody(run, i)) }
        },
      }
    : { url: `${service.baseUrl}/api/leads/${ids[0]}`, setupRequest: (request: RequestParams) => ({ ...request, path: `/api/leads/${ids[n++ % ids.length]}`, headers: { authorization: `Bearer ${token}` } }) }
  await runLoad({ ...spec, connections: 16, duration: 3 })
  const statements = (await admin.query(`select 1 from pg_extension where extname = 'pg_stat_statements'`)).rowCount === 1
  if (statements) await admin.query('select pg_stat_statements_reset()')
  const before = { web: cpuSecondsOf(service.pid), postgres: postgresCpuSeconds(), self: process.cpuUsage() }
  const result = await runLoad({ ...spec, connections: 16, duration: 10 })
  const self = process.cpuUsage(before.self)
  const used = { web: cpuSecondsOf(service.pid) - before.web, postgres: postgresCpuSeconds() - before.postgres, 'load generator': (self.user + self.system) / 1e6 }
  console.log(`${kind}: ${result.throughput.toFixed(0)} req/s over ${result.seconds.toFixed(1)} s, p50 ${result.p50.toFixed(2)} ms`)
  console.log(`CPU: ${Object.entries(used).map(([who, s]) => `${who} ${s.toFixed(2)} s (${((s / result.ok) * 1000).toFixed(2)} ms/request)`).join(', ')}`)
  if (statements) {
    const { rows } = await admin.query(
      `select calls, round((total_plan_time / calls)::numeric, 3) as plan_ms, round((total_exec_time / calls)::numeric, 3) as exec_ms,
              round(((total_plan_time + total_exec_time) / $2)::numeric, 3) as per_request_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as statement
         from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname = $1 order by total_plan_time + total_exec_time desc limit 20`,
      [db.name, result.ok],
    )
    console.table(rows)
  }
  await service.stop()
} finally {
  await admin.end()
  await db.drop()
}
