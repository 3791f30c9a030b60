// `npm test`: type check, lint, the layering rule, then ava against a real PostgreSQL: TEST_DATABASE_URL if set,
// else the server at 127.0.0.1:5432 if one answers, else an embedded one under .data/.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { startEmbeddedPostgres, type EmbeddedServer } from '../lib/embedded-postgres.ts'

const root = path.resolve(import.meta.dirname, '..')
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name)
const avaArgs = process.argv.slice(2)

function run(label: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  console.log(`\n> ${label}`)
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, env })
  if (result.status !== 0) {
    console.error(`${label} failed (exit ${result.status ?? result.signal})`)
    process.exitCode = result.status || 1
    throw new Error(`${label} failed`)
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Debian packages some tests drive: Chromium (browser tests) and Prometheus's promtool (metrics
 * lint). As root on Debian, install what is missing; elsewhere say what to install.
 */
function ensureDebianTools(): void {
  const missing = [
    { pkg: 'chromium', present: Boolean(process.env.CHROMIUM_PATH) || existsSync('/usr/bin/chromium'), options: '' },
    { pkg: 'prometheus', present: Boolean(process.env.PROMTOOL_PATH) || existsSync('/usr/bin/promtool'), options: '--no-install-recommends' },
  ].filter((tool) => !tool.present)
  if (missing.length === 0) return
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.log(`\nInstalling ${missing.map((tool) => tool.pkg).join(' and ')} for the tests (apt-get install)`)
    const installs = missing.map((tool) => `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${tool.options} ${tool.pkg} >/dev/null`)
    spawnSync('sh', ['-c', ['apt-get update -qq', ...installs].join(' && ')], { stdio: 'inherit' })
  } else {
    const names = missing.map((tool) => tool.pkg).join(' ')
    console.log(`\nMissing for some tests: ${names}. Install them (apt-get install ${names}) or set CHROMIUM_PATH / PROMTOOL_PATH.`)
  }
}

let embedded: EmbeddedServer | undefined
const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test' }
try {
  run('type check', bin('tsc'), ['--noEmit', '-p', root])
  run('lint', bin('eslint'), ['.'])
  // The layering rule (docs/architecture.md): imports point one way, no cycles.
  run('layering', bin('depcruise'), ['lib', 'models', 'server', 'jobs', 'migrations', 'scripts', 'bench', 'test', '--config', '.dependency-cruiser.cjs'])
  ensureDebianTools()
  if (!env.TEST_DATABASE_URL) {
    const local = 'postgres://postgres@127.0.0.1:5432/postgres'
    if (await answers(local)) env.TEST_DATABASE_URL = local
    else {
      console.log('\nNo PostgreSQL at 127.0.0.1:5432: starting an embedded one under .data/test-postgres')
      embedded = await startEmbeddedPostgres({ dataDir: path.join(root, '.data', 'test-postgres'), port: Number(env.EMBEDDED_TEST_PG_PORT ?? 54330) })
      env.TEST_DATABASE_URL = embedded.url
    }
  }
  run('tests (ava)', bin('ava'), avaArgs, env)
} catch (error) {
  if (!process.exitCode) {
    console.error(error)
    process.exitCode = 1
  }
} finally {
  await embedded?.stop()
}
// embedded-postgres installs async-exit-hook, which ends the process with exit code 0 on its own;
// exit explicitly so a failed step fails `npm test`.
process.exit(process.exitCode ?? 0)
