// Benchmark of the §10 protection sweep alone (not a test; `node bench/protection-sweep.ts [--leads N]
// [--batch-size N] [--keep]`); `npm run bench` measures it too (scenario protection-sweep). Method:
// bench/lib/protection-sweep-run.ts.
import { parseArgs } from 'node:util'
import { measureProtectionSweep } from './lib/protection-sweep-run.ts'

const { values: args } = parseArgs({
  options: {
    leads: { type: 'string', default: '1000000' },
    'batch-size': { type: 'string', default: '1000' },
    keep: { type: 'boolean', default: false },
  },
})
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`)
const result = await measureProtectionSweep({ leads: Number(args.leads), batchSize: Number(args['batch-size']), keep: args.keep, log })
console.log(JSON.stringify({ scenario: 'protection-sweep', ...result, seconds: Number(result.seconds.toFixed(2)) }))
if (!result.correct) process.exitCode = 1
