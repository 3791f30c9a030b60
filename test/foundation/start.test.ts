import test from 'ava'
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { freePort } from '../helpers/processes.ts'

const root = path.resolve(import.meta.dirname, '../..')

function postgresProcessesFor(dataDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', dataDir], { encoding: 'utf8' }).trim().split('\n').filter((line) => line.includes('postgres'))
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}

function groupProcesses(pgid: number): string[] {
  try {
    return execFileSync('pgrep', ['-a', '-g', String(pgid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)
  } catch {
    return []
  }
}

/** Runs lines as a person pastes them into a shell, in the repository. */
function paste(lines: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-ec', lines.join('\n')], { cwd: root, env, encoding: 'utf8', timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

test('npm start without DATABASE_URL: embedded PostgreSQL, ready within 30 s, the printed lines work, clean stop on Ctrl-C', async (t) => {
  t.timeout(120_000)
  const dataDir = await mkdtemp(path.join(tmpdir(), 'freshplan-start-'))
  const [port, pgPort, metricsPort] = [await freePort(), await freePort(), await freePort()]
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), WORKER_METRICS_PORT: String(metricsPort), FRESHPLAN_DATA_DIR: dataDir, LOG_LEVEL: 'info' }
  const started = Date.now()
  // Its own process group, like a terminal session: SIGTERM goes to the group, as systemd,
  // `timeout` or Ctrl-C deliver it (npm itself does not forward signals to its script).
  const child = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  try {
    let ready = false
    while (!ready && Date.now() - started < 30_000) {
      ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200, () => false)
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 250))
    }
    t.true(ready, `not ready within 30 s:\n${output}`)
    t.log(`ready after ${Date.now() - started} ms`)
    // The lines it prints, pasted into another shell as they are.
    const line = (label: string) => new RegExp(`^  ${label}: +(.+)$`, 'm').exec(output)?.[1] ?? ''
    t.is(line('token'), 'TOKEN=$(npm run -s token -- --user u1 --role SALES --territory DE)')
    const leads = paste([line('token'), line('then')], env)
    t.is(leads.status, 0, leads.stderr)
    t.true(Array.isArray(JSON.parse(leads.stdout).data), leads.stdout)
    t.regex(line('database'), new RegExp(`^postgres://postgres:postgres@127\\.0\\.0\\.1:${pgPort}/freshplan$`), 'the local URL, unmasked')
    const backfill = paste([line('backfill')], env)
    t.is(backfill.status, 0, backfill.stdout + backfill.stderr)
    const workerMetrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    t.is(workerMetrics.status, 200)
    t.regex(await workerMetrics.text(), /freshplan_queue_jobs/)
    t.true(postgresProcessesFor(dataDir).length > 0, 'the embedded server runs from the data dir')
    // Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
    process.kill(-child.pid!, 'SIGINT')
    await exited
    const until = Date.now() + 20_000
    while (groupProcesses(child.pid!).length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200))
    t.deepEqual(groupProcesses(child.pid!), [], output)
    t.deepEqual(postgresProcessesFor(dataDir), [])
    t.regex(output, /web stopped|"msg":"web stopped"/)
    t.notRegex(output, /shutdown failed|exited \(code [1-9]/)
    // A clean stop logs no error and no warning (PostgreSQL stops after web and worker drained).
    t.notRegex(output, /terminating connection|"level":(40|50|60)/)
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // the group is gone, as it should be
    }
    await rm(dataDir, { recursive: true, force: true })
  }
})
