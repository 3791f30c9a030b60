// Scenarios whose features live on other branches. They stay in the table, clearly unmeasured,
// until their module measures something; no figure is ever invented for them.
import type { Figure, Scenario } from '../lib/types.ts'

function notMeasured(scenario: string, figures: readonly string[], needs: string): Scenario {
  return {
    name: scenario.toLowerCase(),
    async run(): Promise<Figure[]> {
      return figures.map((figure) => ({
        scenario, figure, value: null, unit: '', verdict: 'NOT MEASURED' as const,
        method: `not measured in this run (needs ${needs})`,
      }))
    },
  }
}

export const workersScenario = notMeasured(
  'Workers',
  ['follow-up jobs (T+3/T+7) per second', 'normalization backfill leads per second'],
  'the follow-up workers and POST /api/admin/backfills, built on other branches',
)
