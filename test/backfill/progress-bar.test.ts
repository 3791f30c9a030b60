// `npm run backfill` on a terminal draws cli-progress's bar (a pseudo-terminal from util-linux's
// `script`), and off a terminal prints plain lines; both end with the summary line.
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { startStack, type Stack } from '../helpers/stack.ts'

const root = path.resolve(import.meta.dirname, '../..')
let stack: Stack

test.before(async () => {
  stack = await startStack({ web: false })
  await stack.owner.raw(
    `insert into leads (tenant_id, territory, company_name, email, country_code, stage, owner_user_id, created_by, normalization_version)
     select 'default', 'DE', 'Balken ' || g, 'balken.' || g || '@example.de', 'DE', 'VORMERKUNG', 'u1', 'import', 0 from generate_series(1, 3000) g`,
  )
})
test.after.always(() => stack?.stop())

const env = () => ({ PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: stack.db.ownerUrl, LOG_LEVEL: 'warn', TERM: 'xterm', COLUMNS: '160' })

test.serial('on a terminal: a progress bar that reaches 100 %, then the summary', async (t) => {
  t.timeout(90_000)
  if (!existsSync('/usr/bin/script')) return t.fail('util-linux script(1) is needed for a pseudo-terminal')
  const command = `${process.execPath} scripts/backfill.ts --batch-size 500`
  const { stdout } = await promisify(execFile)('script', ['-qefc', command, '/dev/null'], { cwd: root, env: env(), encoding: 'utf8', timeout: 80_000 })
  t.regex(stdout, /\[█{10,}\] 100% 3,000\/3,000 leads · [\d,?]+ leads\/s · ETA \S+ · duplicates 0 · failed 0/)
  t.regex(stdout, /░/, 'drawn empty before it filled')
  t.regex(stdout, /COMPLETED: 3,000 leads in /)
})

test.serial('off a terminal: plain lines, no bar', async (t) => {
  t.timeout(60_000)
  await stack.owner.raw(`update leads set normalization_version = 0 where company_name like 'Balken %'`)
  const { stdout } = await promisify(execFile)(process.execPath, ['scripts/backfill.ts', '--batch-size', '1000'], { cwd: root, env: env(), encoding: 'utf8', timeout: 50_000 })
  t.regex(stdout, /^backfill [0-9a-f-]{36} COMPLETED 100\.0% 3,000\/3,000 leads/m)
  t.false(stdout.includes('█') || stdout.includes('\u001b['), 'no bar, no escape sequences')
  t.regex(stdout, /COMPLETED: 3,000 leads in /)
})
