// The scenarios in table order. A new scenario is one module in this folder, listed here.
import type { Scenario } from '../lib/types.ts'
import { createScenario } from './create.ts'
import { readScenario } from './read.ts'
import { scaleScenario } from './scale.ts'
import { eventsScenario } from './events.ts'
import { workersScenario } from './workers.ts'
import { backfillScenario } from './backfill.ts'
import { protectionSweepScenario } from './protection-sweep.ts'
import { idleScenario } from './idle.ts'
import { matchingScenario } from './matching.ts'

export const SCENARIOS: readonly Scenario[] = [createScenario, readScenario, scaleScenario, eventsScenario, workersScenario, idleScenario, backfillScenario, protectionSweepScenario, matchingScenario]
