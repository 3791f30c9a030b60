// Protection sweep (§10): the daily safety net over 1,000,000 leads (smoke 10,000), a tenth of them
// due without a job. The method is bench/lib/protection-sweep-run.ts, shared with
// `node bench/protection-sweep.ts`. No target in the spec: reported.
import { measureProtectionSweep } from '../lib/protection-sweep-run.ts'
import type { BenchContext, Figure, Scenario } from '../lib/types.ts'

export const protectionSweepScenario: Scenario = {
  name: 'protection-sweep',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const leads = ctx.smoke ? 10_000 : 1_000_000
    const result = await measureProtectionSweep({ leads, log: (line) => ctx.log(`protection-sweep: ${line}`) })
    if (!result.correct) throw new Error(`protection sweep found ${result.due} due, enqueued ${result.enqueued}, ${result.jobsWaiting} jobs waiting; expected one per due lead`)
    return [{
      scenario: 'Workers', figure: `protection sweep over ${leads.toLocaleString('en')} leads (a tenth due)`, value: result.leadsPerSecond, unit: 'leads/s', verdict: 'INFO',
      method: `bench/lib/protection-sweep-run.ts: fresh database, ${leads.toLocaleString('en')} protected leads with stored dates inserted as owner (${result.seedSeconds.toFixed(0)} s), ` +
        `${result.due.toLocaleString('en')} with their next transition due and no job, 1 % stopped, 2 % QUALIFIED, two tenants; sweepProtection as the app role (SYSTEM, all tenants), keyset batches of ${result.batchSize}, ` +
        `one pg-boss insert per kind and batch, no worker draining; ${result.seconds.toFixed(1)} s = ${result.dueLeadsPerSecond.toLocaleString('en')} due leads/s; checked: one waiting job per due lead`,
      details: { ...result },
    }]
  },
}
