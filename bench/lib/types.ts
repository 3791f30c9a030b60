import type { TestDatabase } from '../../test/helpers/database.ts'
import type { BareContext, RunningProcess } from './processes.ts'

export type Verdict = 'PASS' | 'MISS' | 'INFO' | 'NOT MEASURED'

/** One line of the result table. Every figure carries how it was measured. */
export interface Figure {
  scenario: string
  figure: string
  value: number | null
  unit: string
  /** The paired baseline measured in the same run, and value / baseline. */
  baseline?: number | null
  ratio?: number | null
  /** Human-readable target, e.g. "≤ 7 ms" or "≥ 50 %"; the verdict compares against it. */
  target?: string
  verdict: Verdict
  method: string
  /** Raw load-run numbers (requests, errors, p50/p99 …) for the JSON file. */
  details?: Record<string, unknown>
}

export interface Durations {
  /** Seconds (full mode) or undefined when `amount` is used (smoke mode). */
  saturation: { duration?: number; amount?: number }
  fixedRate: { duration?: number; amount?: number }
  warmup: { duration?: number; amount?: number }
}

export interface BenchContext {
  smoke: boolean
  durations: Durations
  /** Saturation connections (autocannon) and SQL-baseline concurrency. */
  connections: number
  /** Connections autocannon spreads a fixed rate over. */
  rateConnections: number
  scaleSizes: { small: number; large: number }
  readRows: number
  cpuProfileDir?: string
  freshDatabase(): Promise<TestDatabase>
  startService(db: TestDatabase): Promise<RunningProcess>
  startBare(db: TestDatabase, context: BareContext): Promise<RunningProcess>
  log(message: string): void
}

/** A scenario is one module in bench/scenarios/: it measures and returns its table lines. */
export interface Scenario {
  name: string
  run(ctx: BenchContext): Promise<Figure[]>
}

export function verdict(value: number | null | undefined, comparison: '<' | '<=' | '>=', limit: number): Verdict {
  if (value === null || value === undefined || Number.isNaN(value)) return 'MISS'
  const met = comparison === '<' ? value < limit : comparison === '<=' ? value <= limit : value >= limit
  return met ? 'PASS' : 'MISS'
}
