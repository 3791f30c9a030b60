// The layering rule (docs/architecture.md) as dependency-cruiser enforces it: the tree has no
// violation and no cycle, and a model importing the HTTP edge is caught.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '../..')
const depcruise = (...paths: string[]) =>
  spawnSync(path.join(root, 'node_modules', '.bin', 'depcruise'), [...paths, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: root, encoding: 'utf8' })

test('the code base keeps the layering rule and has no import cycles', (t) => {
  const result = depcruise('lib', 'models', 'server', 'jobs', 'migrations', 'scripts')
  t.is(result.status, 0, result.stdout + result.stderr)
})

test('a model importing from server/ fails the check', (t) => {
  const scratch = path.join(root, 'models', `.scratch-${randomBytes(4).toString('hex')}`)
  mkdirSync(scratch)
  try {
    writeFileSync(path.join(scratch, 'bad.ts'), "import { problemBody } from '../../server/middleware/problems.ts'\nexport const bad = problemBody\n")
    const result = depcruise(path.relative(root, scratch))
    t.not(result.status, 0)
    t.regex(result.stdout + result.stderr, /models-import-only-lib/)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
})

test('a job handler importing from server/ fails the check', (t) => {
  const scratch = path.join(root, 'jobs', `.scratch-${randomBytes(4).toString('hex')}`)
  mkdirSync(scratch)
  try {
    writeFileSync(path.join(scratch, 'bad.ts'), "import { problemBody } from '../../server/middleware/problems.ts'\nexport const bad = problemBody\n")
    const result = depcruise(path.relative(root, scratch))
    t.not(result.status, 0)
    t.regex(result.stdout + result.stderr, /jobs-not-server/)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
})
