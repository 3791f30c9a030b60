// The bare baseline of the read scenario: node:http + pg and nothing else. It runs the statements
// the service runs for the same request (a read by id: the RLS context and the SELECT as one
// simple query, lib/db.ts readTogether; a list: BEGIN with the RLS context, the query, COMMIT),
// prepared as the service prepares them (lib/db.ts), on a pool of the service's default size, so
// the difference to the service is the framework: koa, middleware, JWT verification, validation,
// knex/objection and the resource mapping.
// The RLS context is fixed per process (BENCH_* variables) instead of coming from a token.
import http from 'node:http'
import pg from 'pg'
import { executePrepared } from './lib/prepared.ts'
import { beginWithContext, readTogetherText, type Role, type SecurityContext, type Territory } from '../lib/db.ts'
import { LEAD_SELECT_LIST, leadByIdStatement } from '../models/lead-table.ts'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 10), application_name: 'freshplan-bench-bare' })
const context: SecurityContext = {
  tenantId: process.env.BENCH_TENANT ?? 'default',
  userId: process.env.BENCH_USER ?? 'bench',
  role: (process.env.BENCH_ROLE ?? 'MANAGER') as Role,
  territories: (process.env.BENCH_TERRITORIES ?? 'DE,CH').split(',') as Territory[],
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query(beginWithContext(context))
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://bare')
  if (url.pathname === '/ready') return send(res, 200, { ok: true })
  const byId = /^\/api\/leads\/([^/]+)$/.exec(url.pathname)
  if (byId) {
    const id = byId[1]!
    if (!UUID.test(id)) return send(res, 404, { status: 404 })
    // What the service sends for it (lib/db.ts readTogether): the context and the SELECT as one simple query.
    const results = (await pool.query(readTogetherText(context, [leadByIdStatement(id)]))) as unknown as pg.QueryResult[]
    const rows = results[1]!.rows
    return rows[0] ? send(res, 200, rows[0]) : send(res, 404, { status: 404 })
  }
  if (url.pathname === '/api/leads') {
    const limit = Number(url.searchParams.get('limit') ?? 50)
    const status = url.searchParams.get('status')
    const params: unknown[] = [context.tenantId]
    let where = '"tenant_id" = $1'
    if (status) {
      params.push(status)
      where += ` and "status" = $${params.length}`
    } else where += ` and not "status" = 'DELETED'`
    const cursor = url.searchParams.get('cursor')
    if (cursor) {
      const { v, id } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v: string; id: string }
      params.push(v, id)
      where += ` and (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`
    }
    params.push(limit + 1)
    const sql = `select ${LEAD_SELECT_LIST}, (created_at)::text as sort_value from "leads" where ${where} order by created_at desc, id desc limit $${params.length}`
    const rows = await inTransaction(async (client) => (await executePrepared(client, sql, params)).rows)
    const data = rows.slice(0, limit)
    const last = data.at(-1)
    const nextCursor = rows.length > limit && last ? Buffer.from(JSON.stringify({ s: '-createdAt', v: last.sort_value, id: last.id })).toString('base64url') : null
    return send(res, 200, { data, nextCursor })
  }
  send(res, 404, { status: 404 })
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error: Error) => send(res, 500, { status: 500, detail: error.message }))
})
server.keepAliveTimeout = 5_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
const stop = () => {
  server.close(() => void pool.end().then(() => process.exit(0)))
  server.closeIdleConnections()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
