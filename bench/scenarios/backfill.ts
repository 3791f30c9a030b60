// Backfill (§5): leads normalized per second by the backfill job over a table of stale leads
// (1,000,000; smoke 5,000). The method is bench/lib/backfill-run.ts, shared with the standalone
// `node bench/backfill.ts`. No baseline in the same run: the target is absolute (Data quality issue).
import { measureBackfill } from '../lib/backfill-run.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'

const TARGET_LEADS_PER_SECOND = 5_000

export const backfillScenario: Scenario = {
  name: 'backfill',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const leads = ctx.smoke ? 5_000 : 1_000_000
    const batchSize = 2_000
    const result = await measureBackfill({ leads, batchSize, log: (line) => ctx.log(`backfill: ${line}`) })
    if (!result.correct) throw new Error(`backfill finished ${result.status} with ${result.stale} stale, ${result.failed} failed, ${result.wrong} of ${result.sampled} sampled leads wrong`)
    return [{
      scenario: 'Workers', figure: 'normalization backfill leads per second', value: result.leadsPerSecond, unit: 'leads/s',
      target: `≥ ${TARGET_LEADS_PER_SECOND.toLocaleString('en')} leads/s`, verdict: verdict(result.leadsPerSecond, '>=', TARGET_LEADS_PER_SECOND),
      method: `bench/lib/backfill-run.ts: fresh database, ${leads.toLocaleString('en')} leads inserted as owner with generate_series at normalization_version 0 (${result.seedSeconds.toFixed(0)} s; raw mixed-case e-mails, 2 % repeating another's address, DE/CH phones, 1 % invalid, 0.5 % deleted), ANALYZE; ` +
        `the backfill started as POST /api/admin/backfills does and worked by a pg-boss worker as the app role under RLS (batches of ${batchSize}); leads/s = processed ÷ time from start to COMPLETED (${result.seconds.toFixed(1)} s); ` +
        `checked: ${result.stale} stale left (= failed), ${result.duplicatesFound} collisions listed, a 0.1 % sample (${result.sampled}) equal to normalizeLead`,
      details: { ...result },
    }]
  },
}
