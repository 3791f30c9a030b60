// The Workers scenario's second process (bench/scenarios/workers.ts), started like the worker:
// pg-boss through jobs/boss.ts startBoss (role worker, application role, pool 10), one queue worked
// by jobs/worker.ts startWorker (its work options: batchSize 1, fetch again after every job, the
// ready-queues poll), and
//   BENCH_HANDLER=noop       a handler that does nothing, on queue bench.noop with the follow-up
//                            queues' options (the baseline);
//   BENCH_HANDLER=follow-up  the real follow-up.t3 job definition with the real deps (knex pool,
//                            config, clock), nothing else.
// Ready when GET /ready answers on PORT.
import http from 'node:http'
import { releaseResources, startBoss } from '../lib/boss.ts'
import { FOLLOW_UP_QUEUES, FOLLOW_UP_T3_QUEUE } from '../lib/queues.ts'
import { followUpJobs } from '../jobs/follow-ups.ts'
import { startWorker } from '../jobs/worker.ts'
import { createKnex } from '../lib/db.ts'
import { systemClock } from '../lib/clock.ts'
import { createLogger } from '../lib/logger.ts'
import { loadConfigOrExit } from '../lib/config.ts'

const config = loadConfigOrExit(process.env, { worker: true })
const logger = createLogger(config, 'bench-queue-worker')
const noop = process.env.BENCH_HANDLER === 'noop'
const queue = noop ? { ...FOLLOW_UP_QUEUES[FOLLOW_UP_T3_QUEUE]!, name: 'bench.noop' } : FOLLOW_UP_QUEUES[FOLLOW_UP_T3_QUEUE]!
const boss = await startBoss({ connectionString: config.workerDatabaseUrl!, logger, role: 'worker', queues: [queue] })
const knex = createKnex(config.workerDatabaseUrl!, { poolMax: config.dbPoolMax, applicationName: 'freshplan-bench-worker' })
const t3 = followUpJobs.find((job) => job.queue === FOLLOW_UP_T3_QUEUE)!
const job = noop ? { queue: 'bench.noop', handle: async () => ({}) } : t3
const worker = await startWorker({ config, knex, boss, logger, clock: systemClock }, [job], [], [])
const server = http.createServer((_req, res) => res.end('ok'))
server.listen(Number(process.env.PORT), '127.0.0.1')
const stop = () => {
  server.close()
  worker.stop().then(() => releaseResources({ config, knex, boss })).then(() => process.exit(0), () => process.exit(1))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
