// Issue 15, the contract: the OpenAPI document lints clean with redocly, names every operation,
// documents the edge's statuses and headers, and the typed client in clients/typescript is what
// openapi-typescript generates from the live document; its example consumer compiles under
// tsc --strict and creates and lists leads against the running service.
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { CLIENT_SCHEMA_FILE, generateClientSchema } from '../../scripts/generate-client.ts'

const root = path.resolve(import.meta.dirname, '../..')
/** Runs a command without blocking this process, which serves the API the command may call. */
async function run(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { cwd: root, encoding: 'utf8', env: env ?? process.env, timeout: 90_000 })
    return { status: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string }
    return { status: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) }
  }
}
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name)
let stack: Stack
let document: any

test.before(async () => {
  stack = await startStack()
  document = await (await fetch(`${stack.baseUrl}/openapi.json`)).json()
})
test.after.always(() => stack?.stop())

const operations = () =>
  Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([route, item]) =>
    Object.entries(item).filter(([method]) => method !== 'parameters').map(([method, operation]) => ({ route, method, operation })))

test('redocly lint: no errors and no warnings', async (t) => {
  t.timeout(60_000)
  const dir = await mkdtemp(path.join(tmpdir(), 'freshplan-openapi-'))
  try {
    const file = path.join(dir, 'openapi.json')
    await writeFile(file, JSON.stringify(document))
    const result = await run(bin('redocly'), ['lint', file, '--config', path.join(root, 'redocly.yaml'), '--format', 'json'])
    const report = JSON.parse(result.stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] }
    t.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: 0 }, JSON.stringify(report.problems, null, 1))
    t.is(result.status, 0)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('every operation has a unique operationId; every /api operation documents the edge\'s problems', (t) => {
  const ids = operations().map(({ operation }) => operation.operationId)
  t.true(ids.every((id) => typeof id === 'string' && id.length > 0))
  t.is(new Set(ids).size, ids.length)
  for (const { route, method, operation } of operations().filter((o) => o.route.startsWith('/api/'))) {
    const statuses = Object.keys(operation.responses)
    const expected = ['400', '401', '500', '503', ...(['post', 'put', 'patch'].includes(method) ? ['413', '415'] : []), ...(['post', 'patch'].includes(method) ? ['409', '422'] : [])]
    for (const status of expected) t.true(statuses.includes(status), `${method.toUpperCase()} ${route} documents ${status}`)
    if (['post', 'patch'].includes(method)) t.true(operation.parameters.some((p: any) => p.$ref === '#/components/parameters/IdempotencyKey'), `${method} ${route}: Idempotency-Key`)
  }
  const { responses, headers, schemas } = document.components
  t.truthy(responses.Unauthorized.headers['WWW-Authenticate'])
  t.truthy(responses.Unavailable.headers['Retry-After'])
  t.truthy(responses.Conflict.headers['Retry-After'], '409 idempotency-key-in-use says when to retry')
  t.deepEqual(Object.keys(headers).sort(), ['Cache-Control', 'Content-Disposition', 'ETag', 'Idempotent-Replayed', 'Location', 'Retry-After', 'WWW-Authenticate', 'X-Request-Id'])
  t.is(schemas.Problem.properties.existingLeadId.format, 'uuid')
  const getLead = document.paths['/api/leads/{id}'].get
  t.truthy(getLead.responses['304'])
  t.true(getLead.parameters.some((p: any) => p.$ref === '#/components/parameters/IfNoneMatch'))
  t.truthy(document.paths['/api/leads'].post.responses['201'].headers.Location)
  t.truthy(document.paths['/api/leads'].post.responses['201'].headers['Idempotent-Replayed'])
  t.is(document.paths['/api/territories'].get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/TerritoryList')
  t.truthy(document.paths['/health/ready'].get.responses['503'].content['application/json'])
  // Response schemas: what is always sent is required, so generated clients need no `| undefined`.
  for (const name of ['Lead', 'Activity', 'Backfill', 'BackfillCollision', 'LeadPage', 'ActivityPage', 'EventPage', 'Territory', 'TerritoryList', 'Problem', 'Liveness', 'Readiness']) {
    t.true(Array.isArray(schemas[name].required) && schemas[name].required.length > 0, `${name} has required`)
  }
  t.false(schemas.Lead.required.includes('warnings'), 'only on writes')
})

test('clients/typescript/src/schema.ts is what openapi-typescript generates from the live document (npm run client:generate)', async (t) => {
  t.timeout(60_000)
  const committed = await readFile(CLIENT_SCHEMA_FILE, 'utf8')
  t.true(committed === (await generateClientSchema(document)), 'stale: run npm run client:generate and commit clients/typescript/src/schema.ts')
})

test('the example consumer compiles under tsc --strict and creates and lists leads with the client', async (t) => {
  t.timeout(120_000)
  const compiled = await run(bin('tsc'), ['-p', path.join(root, 'clients/typescript')])
  t.is(compiled.status, 0, compiled.stdout + compiled.stderr)
  const token = await tokenFor({ user: 'client-example', role: 'SALES', territories: ['DE'] })
  const example = await run(process.execPath, [path.join(root, 'clients/typescript/example.ts')], { PATH: process.env.PATH, TOKEN: token, BASE_URL: stack.baseUrl })
  t.is(example.status, 0, example.stdout + example.stderr)
  const id = /^created ([0-9a-f-]{36}): Gasthaus Zur Linde \(DE, REGISTERED\), version 1, ETag "1"$/m.exec(example.stdout)?.[1]
  t.truthy(id, example.stdout)
  t.regex(example.stdout, new RegExp(`^  ${id}  REGISTERED  Gasthaus Zur Linde$`, 'm'))
})
