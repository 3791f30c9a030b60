// §13: the daily pseudonymization of leads EXPIRED and untouched for 60 days (worker role, SYSTEM):
// e-mail → its SHA-256, phone and contact name removed, in the lead and in its traces.
import { inTransaction, systemContext } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { PSEUDONYMIZE_QUEUE } from '../lib/queues.ts'
import { ALL_TENANTS } from '../lib/tenancy.ts'
import { pseudonymizeLead } from '../models/lead-commands.ts'
import { pseudonymizationCandidates } from '../models/lead-table.ts'
import type { JobDefinition, ScheduleDefinition } from './definitions.ts'

export const PSEUDONYMIZE_AFTER_DAYS = 60
const BATCH = 200

/** One run: every due lead, each in a transaction of its own tenant. Returns how many were pseudonymized. */
export async function pseudonymizeExpiredLeads(deps: Deps): Promise<number> {
  const untouchedSince = new Date(deps.clock.now().getTime() - PSEUDONYMIZE_AFTER_DAYS * 24 * 60 * 60 * 1000)
  let done = 0
  for (;;) {
    // Reading every tenant's leads is allowed to SYSTEM with ALL_TENANTS (V0004); writing is not.
    const batch = await inTransaction(deps.knex, systemContext(ALL_TENANTS), (tx) => pseudonymizationCandidates(tx, untouchedSince, BATCH))
    let changed = 0
    for (const lead of batch) {
      if (await inTransaction(deps.knex, systemContext(lead.tenantId), (tx) => pseudonymizeLead(deps, tx, lead.id, untouchedSince))) changed++
    }
    done += changed
    // A lead that no longer qualified (changed meanwhile) is not selected again; stop when a batch moved nothing.
    if (batch.length < BATCH || changed === 0) return done
  }
}

export const pseudonymizeJob: JobDefinition = {
  queue: PSEUDONYMIZE_QUEUE,
  handle: async (deps) => ({ pseudonymized: await pseudonymizeExpiredLeads(deps) }),
}

export const pseudonymizeSchedule: ScheduleDefinition = { queue: PSEUDONYMIZE_QUEUE, cron: '41 2 * * *' }
