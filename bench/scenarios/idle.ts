// Idle worker (issue 16): what `node jobs/worker.ts` costs when nothing happens — its own CPU, the
// CPU of the PostgreSQL backends serving it, and how many transactions it commits per second. Every
// KEDA-added worker pays this, and a web process beside it shares the cores.
import { setTimeout as sleep } from 'node:timers/promises'
import { backendCpu, backendCpuSince, committedTransactions, cpuSecondsOf } from '../lib/backend-cpu.ts'
import { startWorkerProcess } from '../lib/processes.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'

export const idleScenario: Scenario = {
  name: 'idle',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const db = await ctx.freshDatabase()
    const worker = await startWorkerProcess(db, { cpuProfileDir: ctx.cpuProfileDir })
    const settle = ctx.smoke ? 3 : 10
    const window = ctx.smoke ? 10 : 60
    try {
      ctx.log(`idle: worker started, ${settle} s to settle, then ${window} s with nothing to do`)
      await sleep(settle * 1000)
      const backends = await backendCpu(db.ownerUrl, db.name)
      const transactionsBefore = await committedTransactions(db.ownerUrl, db.name)
      const cpuBefore = cpuSecondsOf(worker.pid)
      const started = performance.now()
      await sleep(window * 1000)
      const seconds = (performance.now() - started) / 1000
      const workerShare = (cpuSecondsOf(worker.pid) - cpuBefore) / seconds
      const postgresShare = backendCpuSince(backends) / seconds
      // Our own two statistics queries commit too; the collector lags ≤ 0.5 s.
      const transactionsPerSecond = ((await committedTransactions(db.ownerUrl, db.name)) - transactionsBefore - 2) / seconds
      const method = `node jobs/worker.ts on a fresh database with no jobs, no events, no leads; ${settle} s after start, then ${seconds.toFixed(0)} s; CPU from /proc/<pid>/stat (utime+stime)`
      return [
        { scenario: 'Idle', figure: 'idle worker CPU (share of one core)', value: workerShare * 100, unit: '%', target: '≤ 1 %', verdict: verdict(workerShare * 100, '<=', 1), method },
        { scenario: 'Idle', figure: 'PostgreSQL CPU serving the idle worker', value: postgresShare * 100, unit: '%', verdict: 'INFO', method: `${method}; the backends connected to the bench database (${backends.size})` },
        {
          scenario: 'Idle', figure: 'idle worker transactions per second', value: transactionsPerSecond, unit: 'tx/s', verdict: 'INFO',
          method: `${method}; xact_commit + xact_rollback of pg_stat_database for the bench database (each pg-boss fetch, supervision step or relay probe is one); the harness's own two reads subtracted`,
        },
      ]
    } finally {
      await worker.stop()
    }
  },
}
