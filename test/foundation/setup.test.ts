// Issue 15, newcomer: `npm start` / `npm test` set themselves up through scripts/setup.cjs
// (prestart/pretest): a clear message on a Node that cannot run the project, `npm ci` when
// node_modules is missing or older than package-lock.json.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const root = path.resolve(import.meta.dirname, '../..')
const script = path.join(root, 'scripts', 'setup.cjs')
const setup = createRequire(import.meta.url)(script) as {
  supportedNode(version: string): boolean
  installReason(root: string): string | null
}

test('the Node versions that run the project match package.json engines', async (t) => {
  for (const version of ['22.18.0', 'v22.20.1', '24.2.0', '24.11.1', '25.0.0']) t.true(setup.supportedNode(version), version)
  // 22.12–22.17 need --experimental-strip-types; 23.x and 24.0/24.1 have no import.meta.main.
  for (const version of ['16.20.2', '18.19.0', '20.11.1', '22.12.0', '22.17.1', '23.11.0', '24.1.0']) t.false(setup.supportedNode(version), version)
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'))
  t.is(pkg.engines.node, '^22.18.0 || >=24.2.0')
  t.is(pkg.scripts.prestart, 'node scripts/setup.cjs')
  t.is(pkg.scripts.pretest, 'node scripts/setup.cjs')
})

test('on an old Node it says what to do and exits non-zero', (t) => {
  const result = spawnSync(process.execPath, [script], { env: { ...process.env, FRESHPLAN_NODE_VERSION: '20.11.1' }, encoding: 'utf8' })
  t.is(result.status, 1)
  t.regex(result.stderr, /needs Node\.js 22\.18 or newer .*; this is Node\.js 20\.11\.1\./)
  t.regex(result.stderr, /nvm install 24/)
})

test('npm ci runs when node_modules is missing or older than the lock file, and not otherwise', async (t) => {
  t.timeout(60_000)
  // A project of its own whose one dependency is a local folder: npm ci needs no registry.
  const dir = await mkdtemp(path.join(tmpdir(), 'freshplan-setup-'))
  try {
    await mkdir(path.join(dir, 'scripts'))
    await cp(script, path.join(dir, 'scripts', 'setup.cjs'))
    await mkdir(path.join(dir, 'dep'))
    await writeFile(path.join(dir, 'dep', 'package.json'), JSON.stringify({ name: 'dep', version: '1.0.0' }))
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', private: true, dependencies: { dep: 'file:dep' } }))
    await writeFile(path.join(dir, 'package-lock.json'), JSON.stringify({
      name: 'p', version: '1.0.0', lockfileVersion: 3, requires: true,
      packages: { '': { name: 'p', version: '1.0.0', dependencies: { dep: 'file:dep' } }, dep: { version: '1.0.0' }, 'node_modules/dep': { resolved: 'dep', link: true } },
    }))
    const run = () => spawnSync(process.execPath, [path.join(dir, 'scripts', 'setup.cjs')], { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_execpath: '' } })
    t.is(setup.installReason(dir), 'node_modules is missing')
    let result = run()
    t.is(result.status, 0, result.stderr)
    t.regex(result.stdout, /node_modules is missing: running npm ci/)
    t.truthy(await stat(path.join(dir, 'node_modules', 'dep', 'package.json')))
    t.is(setup.installReason(dir), null)
    result = run()
    t.is(result.status, 0)
    t.is(result.stdout, '', 'an installed tree is left alone')
    // A pull that changes the lock file makes it newer than the installed tree.
    const later = new Date(Date.now() + 60_000)
    await utimes(path.join(dir, 'package-lock.json'), later, later)
    t.is(setup.installReason(dir), 'package-lock.json is newer than node_modules')
    result = run()
    t.is(result.status, 0, result.stderr)
    t.regex(result.stdout, /package-lock\.json is newer than node_modules: running npm ci/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
