// §13 consent and privacy, the parts around the lead write path: the unsubscribe link (no login)
// and the data export. The writes themselves are in lead-commands.ts (revokeConsent, eraseLead,
// pseudonymizeLead).
import { inTransaction, type SecurityContext } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import type { Tx } from '../lib/db.ts'
import { mailsOfLead, unsubscribeTarget } from './email-outbox.ts'
import { eventsOfLead } from './event-outbox.ts'
import { cloudEventOf } from './events.ts'
import { historyResource, listHistory } from './lead-history.ts'
import { activityResource, leadResource, LeadActivity, ACTIVITY_SELECT_LIST } from './lead-table.ts'
import { requireLead } from './lead-queries.ts'
import { revokeConsent } from './lead-commands.ts'

/** Who acts when a recipient follows the unsubscribe link: no person, recorded as this user id. */
export const UNSUBSCRIBE_ACTOR_ID = 'unsubscribe-link'

/**
 * The context of an unsubscribe request: the token's tenant and its lead's territory only, with
 * manager rights there (the recipient is not a user; SYSTEM is the worker's alone, V0008). Only
 * `revokeConsent` of the token's own lead runs in it (docs/decisions.md "Consent and privacy").
 */
function unsubscribeContext(target: { tenantId: string; territory: SecurityContext['territories'][number] }): SecurityContext {
  return { tenantId: target.tenantId, userId: UNSUBSCRIBE_ACTOR_ID, role: 'MANAGER', territories: [target.territory] }
}

/** Whether a token belongs to a mail (the confirmation page is shown only then). */
export async function unsubscribeTokenKnown(deps: Pick<Deps, 'knex'>, token: string): Promise<boolean> {
  return (await unsubscribeTarget(deps.knex, token)) !== undefined
}

/** RFC 8058 one-click (and the page's button): revokes the consent of the token's lead. 'unknown' for a token of no mail. */
export async function unsubscribe(deps: Deps, token: string): Promise<'revoked' | 'already-revoked' | 'unknown'> {
  const target = await unsubscribeTarget(deps.knex, token)
  if (!target) return 'unknown'
  const { changed } = await inTransaction(deps.knex, unsubscribeContext(target), (tx) =>
    revokeConsent(deps, tx, { id: UNSUBSCRIBE_ACTOR_ID, role: 'MANAGER' }, target.leadId, 'UNSUBSCRIBE_LINK'))
  return changed ? 'revoked' : 'already-revoked'
}

const ALL_ACTIVITIES = `select ${ACTIVITY_SELECT_LIST} from lead_activities where lead_id = ? order by occurred_at, created_at, id`
/** Export bound: a lead with more history than this is exported up to it (and says so). */
const MAX_HISTORY_ROWS = 100_000

/** Everything stored about a lead as one JSON document (§13, MANAGER/ADMIN: the route checks the role). */
export async function exportLead(deps: Pick<Deps, 'clock'>, tx: Tx, id: string): Promise<Record<string, unknown>> {
  const lead = await requireLead(tx, id)
  const { rows } = await tx.trx.raw<{ rows: object[] }>(ALL_ACTIVITIES, [lead.id])
  const activities = rows.map((row) => activityResource(LeadActivity.fromDatabaseJson(row)))
  const history = await listHistory(tx, lead.id, { limit: MAX_HISTORY_ROWS })
  const events = await eventsOfLead(tx.trx, lead.id)
  const mails = await mailsOfLead(tx, lead.id)
  return {
    exportedAt: deps.clock.now().toISOString(),
    lead: leadResource(lead),
    activities,
    history: history.data.map(historyResource),
    events: events.map(cloudEventOf),
    mails,
  }
}
