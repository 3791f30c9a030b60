// Benchmark of the §14 import job (not a test): `node bench/import.ts [--rows N] [--batch-size N] [--format csv|xlsx] [--keep]`.
// A fresh database (cloned from the migrated test template); a CSV of N rows (all valid, unique
// e-mails, a mix of fields as a trade-fair list has them) is stored like POST /api/imports stores it,
// and a pg-boss worker in this process works the real `leads.import` job as the application role
// under RLS, through createLead. rows/s = rows ÷ time from queueing to COMPLETED. Checked, not only
// timed: every row must be one lead. Target: ≥ 1,500 rows/s (issue 21).
import os from 'node:os'
import { parseArgs } from 'node:util'
import ExcelJS from 'exceljs'
import { createTestDatabase } from '../test/helpers/database.ts'
import { testConfig } from '../test/helpers/stack.ts'
import { createKnex, inTransaction } from '../lib/db.ts'
import { createLogger } from '../lib/logger.ts'
import { systemClock } from '../lib/clock.ts'
import { releaseResources, startBoss } from '../lib/boss.ts'
import { startWorker } from '../jobs/worker.ts'
import { importJob } from '../jobs/imports.ts'
import { QUEUES } from '../lib/queues.ts'
import { createImport, findImport, IMPORT_BATCH_SIZE } from '../models/imports.ts'

const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    rows: { type: 'string', default: '100000' },
    format: { type: 'string', default: 'csv' },
    keep: { type: 'boolean', default: false },
    // Where the time goes: wall time per kind of statement (knex query events), summed.
    split: { type: 'boolean', default: false },
    // --no-analyze: no autovacuum stand-in (below), to see the import on a table never analyzed.
    analyze: { type: 'boolean', default: true },
  },
})
const rows = Number(args.rows)
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`)

// A trade-fair list as people keep them; 100,000 rows fit the 10 MB limit (about 90 bytes a row).
const HEADER = ['Firma', 'Ansprechpartner', 'E-Mail', 'Telefon', 'PLZ', 'Ort', 'Land', 'Branche', 'Notizen']
const TYPES = ['Restaurant', 'Hotel', 'Kantine', 'Catering']
function row(i: number): string[] {
  return [`Firma ${i} GmbH`, `Kontakt ${i}`, `k${i}@firma${i}.example`, `030 ${1_000_000 + i}`, String(10_000 + (i % 89_999)),
    `Stadt ${i % 500}`, i % 10 === 0 ? 'CH' : 'DE', TYPES[i % 4]!, i % 10 === 0 ? `Messe ${i}` : '']
}

async function file(): Promise<Buffer> {
  if (args.format === 'xlsx') {
    const workbook = new ExcelJS.Workbook()
    const sheet = workbook.addWorksheet('Leads')
    sheet.addRow(HEADER)
    for (let i = 1; i <= rows; i++) sheet.addRow(row(i))
    return Buffer.from(await workbook.xlsx.writeBuffer())
  }
  const lines = [HEADER.join(';')]
  for (let i = 1; i <= rows; i++) lines.push(row(i).join(';'))
  return Buffer.from(lines.join('\r\n'))
}

const db = await createTestDatabase()
const config = testConfig(db, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', SHUTDOWN_TIMEOUT_MS: '25000' })
const logger = createLogger(config, 'bench')
// The worker process's connection (the worker role, which may act as SYSTEM, V0008); the upload is
// stored through the web's (the application role), as POST /api/imports does.
const knex = createKnex(config.workerDatabaseUrl!, { poolMax: config.dbPoolMax })
const web = createKnex(config.appDatabaseUrl, { poolMax: 2 })
const owner = createKnex(db.ownerUrl, { poolMax: 2 })
const boss = await startBoss({ connectionString: config.workerDatabaseUrl!, logger, role: 'worker', queues: Object.values(QUEUES) })
const deps = { config, knex, boss, logger, clock: systemClock }
const split = new Map<string, { ms: number; count: number }>()
if (args.split) {
  const started = new Map<string, number>()
  const kind = (sql: string) => {
    const text = sql.replace(/\s+/g, ' ').trim()
    const table = /^(insert into|update|select .*? from|with .*? insert into) "?([\w.]+)"?/i.exec(text)?.[2]
    return `${text.split(' ')[0]!.toLowerCase()} ${table ?? text.slice(0, 40)}`
  }
  knex.on('query', (query: { __knexQueryUid: string }) => started.set(query.__knexQueryUid, performance.now()))
  knex.on('query-response', (_response: unknown, query: { __knexQueryUid: string; sql: string }) => {
    const at = started.get(query.__knexQueryUid)
    if (at === undefined) return
    started.delete(query.__knexQueryUid)
    const entry = split.get(kind(query.sql)) ?? { ms: 0, count: 0 }
    entry.ms += performance.now() - at
    entry.count++
    split.set(kind(query.sql), entry)
  })
}
/**
 * This machine's PostgreSQL runs with autovacuum off (/etc/postgresql/15/main/conf.d/90-ci.conf).
 * Without it a table growing from empty is never analyzed, and the planner picks indexes blind (a
 * candidate probe on e-mail scanned the tenant's whole index instead of the unique one). So that
 * the import is measured as it runs on a server with autovacuum, this does autovacuum's analyze:
 * every 10 s (autovacuum_naptime is 60 s by default) each table of the import whose changes exceed
 * its default threshold (50 rows + 10 %) is analyzed, as the owner. Nothing when autovacuum is on.
 */
async function autovacuumStandIn(): Promise<{ stop(): Promise<void> | void }> {
  const { rows: [setting] } = await owner.raw<{ rows: { autovacuum: string }[] }>('show autovacuum')
  if (setting!.autovacuum === 'on' || !args.analyze) return { stop() {} }
  log('autovacuum is off on this server: analyzing like autovacuum would (threshold 50 + 10 %, every 10 s)')
  let running = true
  const loop = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 10_000))
      if (!running) break
      const { rows: due } = await owner.raw<{ rows: { relname: string }[] }>(
        `select s.relname from pg_stat_user_tables s join pg_class c on c.oid = s.relid
          where s.schemaname = 'public' and s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)`,
      )
      const at = performance.now()
      for (const { relname } of due) await owner.raw(`analyze "${relname}"`)
      if (due.length > 0) log(`analyzed ${due.map((d) => d.relname).join(', ')} in ${Math.round(performance.now() - at)} ms`)
    }
  })()
  return { stop: () => { running = false; return loop } }
}

try {
  const content = await file()
  log(`database ${db.name}; ${os.cpus().length} cores; ${rows.toLocaleString('en')} rows, ${args.format}, ${(content.length / 1e6).toFixed(1)} MB, batches of ${IMPORT_BATCH_SIZE}`)
  const analyzer = await autovacuumStandIn()
  const worker = await startWorker(deps, [importJob], [], [])
  const started = performance.now()
  const ctx = { tenantId: 'default', userId: 'bench', role: 'SALES', territories: ['DE', 'CH'] } as const
  const imp = await inTransaction(web, ctx, (tx) => createImport(deps, tx, { file: content, filename: 'bench', contentType: null, fileType: args.format === 'xlsx' ? 'XLSX' : 'CSV', options: { dryRun: false, source: 'SONSTIGES' } }))
  let current = imp
  let lastLog = performance.now()
  while (current.status === 'QUEUED' || current.status === 'RUNNING') {
    await new Promise((resolve) => setTimeout(resolve, 200))
    current = (await inTransaction(web, ctx, (tx) => findImport(tx, imp.id)))!
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now()
      log(`${current.processed.toLocaleString('en')} rows, ${Math.round((current.processed * 1000) / (performance.now() - started))} rows/s`)
    }
  }
  const seconds = (performance.now() - started) / 1000
  await analyzer.stop()
  await worker.stop()
  const leads = (await owner.raw(`select count(*)::int as n, count(distinct email)::int as emails from leads`)).rows[0]
  const result = {
    scenario: 'import', rows, format: args.format, status: current.status, failureReason: current.failureReason, created: current.created, failed: current.failed,
    seconds: Number(seconds.toFixed(2)), rowsPerSecond: Math.round(rows / seconds), cores: os.cpus().length,
    correct: current.status === 'COMPLETED' && current.created === rows && leads.n === rows && leads.emails === rows,
  }
  console.log(JSON.stringify(result))
  if (args.split) {
    const total = seconds * 1000
    for (const [statement, { ms, count }] of [...split].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
      console.log(`${(ms / 1000).toFixed(1).padStart(7)} s ${((100 * ms) / total).toFixed(0).padStart(3)} %  ${String(count).padStart(6)}×  ${statement}`)
    }
  }
  if (!result.correct) process.exitCode = 1
} finally {
  await releaseResources(deps)
  await owner.destroy()
  await web.destroy()
  if (!args.keep) await db.drop()
}
