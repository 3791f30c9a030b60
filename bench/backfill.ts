// Benchmark of the §5 normalization backfill alone (not a test; `node bench/backfill.ts [--leads N]
// [--batch-size N] [--keep]`); `npm run bench` measures it too (scenario backfill). See
// bench/lib/backfill-run.ts for the method. Target: ≥ 5,000 leads/s on 2 cores.
import { parseArgs } from 'node:util'
import { measureBackfill } from './lib/backfill-run.ts'

const { values: args } = parseArgs({
  options: {
    leads: { type: 'string', default: '1000000' },
    'batch-size': { type: 'string', default: '2000' },
    keep: { type: 'boolean', default: false },
  },
})
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`)
const result = await measureBackfill({ leads: Number(args.leads), batchSize: Number(args['batch-size']), keep: args.keep, log })
console.log(JSON.stringify({ scenario: 'backfill', ...result, seconds: Number(result.seconds.toFixed(2)) }))
if (!result.correct) process.exitCode = 1
