// The deployment manifests reference things the code must keep: probe paths, entry points and
// the queue-depth query KEDA runs against pg-boss's tables as the application role.
import test from 'ava'
import { readFile } from 'node:fs/promises'
import { startStack } from '../helpers/stack.ts'

const manifest = (name: string) => readFile(new URL(`../../deploy/k8s/${name}`, import.meta.url), 'utf8')

test('the KEDA queue-depth query runs as the application role and counts ready jobs', async (t) => {
  const keda = await manifest('keda-scaledobject.yaml')
  const query = /query: >-\n((?:\s{10}.*\n?)+)/.exec(keda)![1]!.replaceAll(/\s+/g, ' ').trim()
  t.regex(query, /^select count\(\*\) from pgboss\.job/)
  const stack = await startStack({ web: false, queues: [{ name: 'test.depth' }] })
  try {
    const before = Number((await stack.deps.knex.raw(query)).rows[0].count)
    await stack.deps.boss.send('test.depth', {})
    await stack.deps.boss.send('test.depth', {}, { startAfter: 3600 }) // deferred: not ready, not counted
    const after = Number((await stack.deps.knex.raw(query)).rows[0].count)
    t.is(after - before, 1)
  } finally {
    await stack.stop()
  }
})

test('probes and commands point at what the code serves and runs', async (t) => {
  const web = await manifest('web.yaml')
  t.regex(web, /path: \/health\/live/)
  t.regex(web, /path: \/health\/ready/)
  t.regex(web, /command: \["node", "server\/web\.ts"\]/)
  t.regex(await manifest('worker.yaml'), /command: \["node", "jobs\/worker\.ts"\]/)
  t.regex(await manifest('migrate-job.yaml'), /command: \["node", "scripts\/migrate\.ts"\]/)
  const procfile = await readFile(new URL('../../Procfile', import.meta.url), 'utf8')
  t.regex(procfile, /^release: node scripts\/migrate\.ts$/m)
})
