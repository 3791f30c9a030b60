// The processes under test: the real `web` process (node server/web.ts) and the bare baseline
// server, each in its own child process so they never share the load generator's event loop.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { everyQueueMaintained, type TestDatabase } from '../../test/helpers/database.ts'
import { sleep, waitUntil } from '../../test/helpers/events.ts'
import { TEST_JWT_SECRET } from '../../test/helpers/stack.ts'

export const ROOT = path.resolve(import.meta.dirname, '..', '..')

export interface RunningProcess {
  name: string
  baseUrl: string
  pid: number
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

async function waitUntilReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before it was ready:\n${output()}`)
    try {
      const response = await fetch(url)
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not ready after 30 s: ${url}\n${output()}`)
}

async function startProcess(name: string, script: string, env: Record<string, string>, readyPath: string, nodeArgs: string[] = [], portVariable = 'PORT'): Promise<RunningProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, [portVariable]: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000))
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const baseUrl = `http://127.0.0.1:${port}`
  try {
    await waitUntilReady(baseUrl + readyPath, child, () => output)
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return {
    name,
    baseUrl,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

export interface ServiceOptions {
  /** Directory for a V8 CPU profile of the process (`--cpu-prof`). */
  cpuProfileDir?: string
}

/** The `web` process exactly as production starts it, against the benchmark's database. */
export function startService(db: TestDatabase, options: ServiceOptions = {}): Promise<RunningProcess> {
  return startProcess(
    'service',
    'server/web.ts',
    { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, LOG_LEVEL: 'warn', AUTH_JWT_SECRET: TEST_JWT_SECRET },
    '/health/ready',
    profiling(options),
  )
}

function profiling(options: ServiceOptions): string[] {
  return options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []
}

/** The `worker` process exactly as production starts it; ready when its /metrics listener answers. */
export function startWorkerProcess(db: TestDatabase, options: ServiceOptions = {}): Promise<RunningProcess> {
  return startProcess(
    'worker',
    'jobs/worker.ts',
    { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, LOG_LEVEL: 'warn', AUTH_JWT_SECRET: TEST_JWT_SECRET },
    '/metrics',
    profiling(options),
    'WORKER_METRICS_PORT',
  )
}

/**
 * Resolves once a worker process started on `db` is past its start-up: pg-boss's once-a-day
 * maintenance of every queue, which it runs right after starting, is done (each queue's
 * `maintain_on` set), and `settleMs` more have passed. A worker beside web costs its steady state;
 * its start-up (module loading, compiling, that pass) comes once per deploy.
 */
export async function workerSettled(db: TestDatabase, settleMs = 2000): Promise<void> {
  if (!(await waitUntil(() => everyQueueMaintained(db.ownerUrl), 60_000, 200))) throw new Error('the worker has not maintained every queue after 60 s')
  await sleep(settleMs)
}

/** bench/queue-worker.ts: one queue, a no-op or the real follow-up.t3 handler. */
export function startQueueWorker(db: TestDatabase, handler: 'noop' | 'follow-up'): Promise<RunningProcess> {
  return startProcess(
    `queue-worker-${handler}`,
    'bench/queue-worker.ts',
    { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, LOG_LEVEL: 'warn', AUTH_JWT_SECRET: TEST_JWT_SECRET, BENCH_HANDLER: handler },
    '/ready',
  )
}

export interface BareContext {
  tenantId: string
  userId: string
  role: string
  territories: readonly string[]
}

/** The bare baseline: node:http + pg, the same queries, no framework (bench/bare-server.ts). */
export function startBareServer(db: TestDatabase, context: BareContext): Promise<RunningProcess> {
  return startProcess(
    'bare',
    'bench/bare-server.ts',
    {
      DATABASE_URL: db.appUrl,
      BENCH_TENANT: context.tenantId,
      BENCH_USER: context.userId,
      BENCH_ROLE: context.role,
      BENCH_TERRITORIES: context.territories.join(','),
    },
    '/ready',
  )
}
