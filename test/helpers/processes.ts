// Real processes for tests that need them: free ports, the `web`/`worker` entry points as children.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { TEST_JWT_SECRET } from './stack.ts'

export const ROOT = path.resolve(import.meta.dirname, '../..')

export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface ServiceProcess {
  entry: 'server/web.ts' | 'jobs/worker.ts'
  child: ChildProcessWithoutNullStreams
  output(): string
  exited: Promise<number | null>
}

/** `node server/web.ts` or `node jobs/worker.ts` with a test configuration; output is collected. */
export function spawnService(entry: 'server/web.ts' | 'jobs/worker.ts', env: Record<string, string>, nodeArgs: string[] = []): ServiceProcess {
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', AUTH_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'warn', WORKER_METRICS_PORT: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { entry, child, output: () => output, exited }
}

/** Polls /health/ready until 200; fails with the process output when it does not come up. */
export async function waitUntilReady(port: number, service: ServiceProcess, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status, () => 0)
    if (status === 200) return
    if (Date.now() > deadline || service.child.exitCode !== null) throw new Error(`${service.entry} did not become ready: ${service.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
