// Where a create's time goes inside PostgreSQL, statement by statement (a profiling aid, not part of
// `npm run bench`; found the create's re-planned insert, bench/README.md run 11):
//   node bench/statement-times.ts [--creates 500] [--log /var/log/postgresql/postgresql-15-main.log]
// Sequential creates (each a new business, with an Idempotency-Key) against an in-process web on a
// fresh database; after a warm-up the database gets `log_min_duration_statement = 0`, and the
// server log's durations (parse, bind, execute; a simple query as one) are summed per statement
// text and divided by the creates. Elapsed time in the server, not CPU; needs a server that logs to
// a file this process can read, and the owner's right to ALTER DATABASE (the test server's postgres).
import { readFileSync, statSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { startStack } from '../test/helpers/stack.ts'
import { tokenFor } from '../test/helpers/api.ts'
import { withClient } from '../test/helpers/database.ts'

const { values } = parseArgs({ options: { creates: { type: 'string', default: '500' }, log: { type: 'string', default: '/var/log/postgresql/postgresql-15-main.log' } } })
const creates = Number(values.creates)
const stack = await startStack()
try {
  const token = await tokenFor({ user: 'statement-times', role: 'SALES', territories: ['DE'] })
  const create = async (i: number) => {
    const response = await fetch(`${stack.baseUrl}/api/leads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `st-${i}` },
      body: JSON.stringify({ companyName: `Timing Gastro ${i} GmbH`, email: `t${i}@gastro-${i}.example`, phone: `+49 30 ${20_000_000 + i * 7919}`, street: `Hauptstraße ${i % 300}`, postalCode: String(10_000 + i * 13), city: 'Berlin', source: 'WEB_FORMULAR' }),
    })
    if (response.status !== 201) throw new Error(`create answered ${response.status}`)
    await response.arrayBuffer()
  }
  for (let i = 0; i < 50; i++) await create(-1 - i) // warm-up: prepared statements, plans, caches
  const database = stack.db.name
  await withClient(stack.db.ownerUrl, (client) => client.query(`alter database "${database}" set log_min_duration_statement = 0`))
  // The setting applies to new sessions: end the pool's, which reconnect (and prepare) on demand.
  await withClient(stack.db.ownerUrl, (client) => client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]))
  for (let i = 0; i < 20; i++) await create(-100 - i).catch(() => undefined) // the first may meet a terminated connection
  const logStart = statSync(values.log).size
  for (let i = 0; i < creates; i++) await create(i)
  await withClient(stack.db.ownerUrl, (client) => client.query(`alter database "${database}" reset log_min_duration_statement`))
  const byStatement = new Map<string, number[]>()
  for (const line of readFileSync(values.log).subarray(logStart).toString('utf8').split('\n')) {
    const match = line.includes(`@${database} LOG:  duration: `) && /duration: ([\d.]+) ms\s+(?:(parse|bind|execute) [^:]*|statement): (.*)/.exec(line)
    if (!match) continue
    const key = `${(match[2] ?? 'simple').padEnd(8)} ${match[3]!.replace(/\s+/g, ' ').slice(0, 90)}`
    byStatement.set(key, [...(byStatement.get(key) ?? []), Number(match[1])])
  }
  let total = 0
  const rows = [...byStatement].filter(([, times]) => times.length >= creates / 2).map(([key, times]) => ({ key, calls: times.length, perCreate: times.reduce((a, b) => a + b, 0) / creates }))
  for (const { key, calls, perCreate } of rows.sort((a, b) => b.perCreate - a.perCreate)) {
    total += perCreate
    console.log(`${perCreate.toFixed(3).padStart(7)} ms/create  ${String(calls).padStart(5)} calls  ${key}`)
  }
  console.log(`${total.toFixed(3).padStart(7)} ms/create  in all, ${creates} sequential creates`)
} finally {
  await stack.stop()
}
