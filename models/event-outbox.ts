// The outbox table `lead_events` (migrations/V0005): every query of it lives here, each inside a
// transaction of lib/db.ts inTransaction, so its row-level security decides what a caller sees.
import { readTogether, type Knex, type PendingWrite, type SecurityContext, type Statement } from '../lib/db.ts'
import { CROSS_MODULE_CHANNEL, DASHBOARD_CHANNEL, type LeadEventRecord } from './events.ts'

/** What a dashboard listener sends once per connection (§7's channels). */
export const LISTEN_TO_EVENT_CHANNELS = `listen ${DASHBOARD_CHANNEL}; listen ${CROSS_MODULE_CHANNEL}`

/**
 * The outbox relay's wake-up (jobs/events.ts OutboxRelay). Sent after a writer's commit, never
 * inside its transaction: a NOTIFY takes PostgreSQL's global notify lock from pre-commit until the
 * commit is flushed, which would serialize every lead write behind every other one's fsync. This
 * one is its own tiny transaction that commits without waiting for the flush (it is only a hint:
 * the relay also polls, and the publish job is the durable trigger).
 */
export const OUTBOX_WAKE_CHANNEL = 'freshplan_outbox_wake'
export const LISTEN_TO_OUTBOX_WAKE = `listen ${OUTBOX_WAKE_CHANNEL}`
const WAKE_OUTBOX = `select set_config('synchronous_commit', 'off', true), pg_notify('${OUTBOX_WAKE_CHANNEL}', '')`

export async function wakeOutboxRelay(knex: Knex): Promise<void> {
  await knex.raw(WAKE_OUTBOX)
}

// Advisory lock keys (two-int form, so they cannot collide with single-bigint locks elsewhere).
const PUBLISHER_LOCK = `select pg_advisory_xact_lock(hashtext('freshplan.lead_events.publisher'), 0)`
const LEAD_LOCK = `select pg_advisory_xact_lock(hashtext('freshplan.lead_events.lead'), hashtext(?))`

/** One publisher at a time, across all processes, until the transaction ends. */
export async function lockPublisher(trx: Knex.Transaction): Promise<void> {
  await trx.raw(PUBLISHER_LOCK)
}

/** Orders the events of one lead: a later change waits for this transaction's event to commit. */
export async function lockLeadEvents(trx: Knex.Transaction, leadId: string): Promise<void> {
  await trx.raw(LEAD_LOCK, [leadId])
}

interface LeadEventRow {
  id: string
  seq: number | null
  tenant_id: string
  territory: LeadEventRecord['territory']
  lead_id: string
  owner_user_id: string | null
  collaborator_user_ids: string[]
  type: LeadEventRecord['type']
  idempotency_key: string
  time: Date
  data: unknown
}

const COLUMNS = 'id, seq, tenant_id, territory, lead_id, owner_user_id, collaborator_user_ids, type, idempotency_key, time, data'

/**
 * What one page of events (GET /api/events, a stream replay, the listener's catch-up) or one
 * publish batch may hold: it ends once its events' `data` add up to this many bytes (as JSON text,
 * the `data_bytes` column of V0010), so a few huge events cannot make a page of 1000 take
 * gigabytes. A page always holds at least one event.
 */
export const EVENT_BATCH_MAX_BYTES = 1024 * 1024

/** A bounded batch of events, and whether more were left out (by count or by bytes). */
export interface EventBatch {
  records: LeadEventRecord[]
  more: boolean
}

/**
 * Up to `limit` events in `order` that satisfy `where`, ending once their data reached `maxBytes`.
 * The running sum of data_bytes is a streaming window over the ordered index scan. One event past
 * the budget is read without its data, to tell "more" from "all".
 */
async function boundedBatch(db: Knex | Knex.Transaction, source: string, bindings: Knex.RawBinding[], order: string, limit: number, maxBytes: number): Promise<EventBatch> {
  const { rows } = await db.raw<{ rows: (LeadEventRow & { beyond: boolean })[] }>(
    `select id, seq, tenant_id, territory, lead_id, owner_user_id, collaborator_user_ids, type, idempotency_key, time,
            case when before_bytes < ? then data end as data, before_bytes >= ? as beyond
       from (select ${COLUMNS}, ${order} as batch_order,
                    coalesce(sum(data_bytes) over (order by ${order} rows between unbounded preceding and 1 preceding), 0) as before_bytes,
                    coalesce(sum(data_bytes) over (order by ${order} rows between unbounded preceding and 2 preceding), 0) as before_previous
               from ${source} order by ${order} limit ?) batch
      where before_previous < ?
      order by batch_order`,
    [maxBytes, maxBytes, ...bindings, limit, maxBytes],
  )
  const records = rows.filter((row) => !row.beyond).map(fromRow)
  return { records, more: records.length < rows.length || records.length === limit }
}

function fromRow(row: LeadEventRow): LeadEventRecord {
  return {
    id: row.id,
    seq: row.seq,
    tenantId: row.tenant_id,
    territory: row.territory,
    leadId: row.lead_id,
    ownerUserId: row.owner_user_id,
    collaboratorUserIds: row.collaborator_user_ids,
    type: row.type,
    idempotencyKey: row.idempotency_key,
    time: row.time,
    data: row.data,
  }
}

/** Writes one event; false when an event with the same idempotency key already exists (the same logical change). */
export async function insertEvent(trx: Knex.Transaction, event: Omit<LeadEventRecord, 'seq'>): Promise<boolean> {
  const { rowCount } = await trx.raw(
    `insert into lead_events (id, tenant_id, territory, lead_id, owner_user_id, collaborator_user_ids, type, idempotency_key, time, data)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)
     on conflict (idempotency_key) do nothing`,
    [
      event.id, event.tenantId, event.territory, event.leadId, event.ownerUserId, event.collaboratorUserIds,
      event.type, event.idempotencyKey, event.time, JSON.stringify(event.data),
    ],
  )
  return rowCount === 1
}

/**
 * Many events in one statement (a batch of created leads), as a write to send with others (lib/db.ts
 * writeTogether): the same table, columns and conflict rule as insertEvent.
 */
export function eventsWrite(events: readonly Omit<LeadEventRecord, 'seq'>[]): PendingWrite {
  return {
    sql: `insert into lead_events (id, tenant_id, territory, lead_id, owner_user_id, collaborator_user_ids, type, idempotency_key, time, data)
     select e.id, e.tenant_id, e.territory, e.lead_id, e.owner_user_id, e.collaborator_user_ids, e.type, e.idempotency_key, e.time, e.data
       from jsonb_populate_recordset(null::lead_events, ?::jsonb) as e
     on conflict (idempotency_key) do nothing`,
    bindings: [JSON.stringify(events.map((event) => ({
      id: event.id, tenant_id: event.tenantId, territory: event.territory, lead_id: event.leadId, owner_user_id: event.ownerUserId,
      collaborator_user_ids: event.collaboratorUserIds, type: event.type, idempotency_key: event.idempotencyKey, time: event.time, data: event.data,
    })))],
  }
}

/** Published events after a sequence number, in delivery order, bounded in count and bytes; RLS leaves only what the caller may see. */
export async function publishedAfter(trx: Knex.Transaction, after: number, limit: number, maxBytes = EVENT_BATCH_MAX_BYTES): Promise<EventBatch> {
  return boundedBatch(trx, 'lead_events where seq > ?', [after], 'seq', limit, maxBytes)
}

/** Every event of a lead in recording order, published or not (the data export of §13). */
export async function eventsOfLead(trx: Knex.Transaction, leadId: string): Promise<LeadEventRecord[]> {
  const { rows } = await trx.raw<{ rows: LeadEventRow[] }>(`select ${COLUMNS} from lead_events where lead_id = ? order by record_no`, [leadId])
  return rows.map(fromRow)
}

export async function findEvent(trx: Knex.Transaction, id: string): Promise<LeadEventRecord | undefined> {
  const { rows } = await trx.raw<{ rows: LeadEventRow[] }>(`select ${COLUMNS} from lead_events where id = ?`, [id])
  return rows[0] && fromRow(rows[0])
}

// The dashboard listener of a web process serves every tenant but may not claim SYSTEM or '*' (the
// application role cannot, V0008): it reads through these SECURITY DEFINER functions instead, each a
// statement of its own (no transaction, no RLS context needed).

/** The highest published sequence number of all tenants (0 when none). */
export async function dashboardLatestSeq(knex: Knex): Promise<number> {
  const { rows } = await knex.raw<{ rows: { seq: number }[] }>(`select dashboard_latest_seq() as seq`)
  return rows[0]?.seq ?? 0
}

/** Published events of all tenants after a sequence number, in delivery order. */
export async function dashboardPublishedAfter(knex: Knex, after: number, limit: number, maxBytes = EVENT_BATCH_MAX_BYTES): Promise<EventBatch> {
  // The function's rows stay in PostgreSQL (a tuplestore); only those within the byte budget reach this process.
  return boundedBatch(knex, 'dashboard_events_after(?, ?) as lead_events', [after, limit], 'seq', limit, maxBytes)
}

/** Events of any tenant by id, published or not (the listener checks a NOTIFY against them). */
export async function dashboardFindEvents(knex: Knex, ids: readonly string[]): Promise<LeadEventRecord[]> {
  if (ids.length === 0) return []
  const { rows } = await knex.raw<{ rows: LeadEventRow[] }>(`select ${COLUMNS} from dashboard_events(?::uuid[])`, [[...ids]])
  return rows.map(fromRow)
}

const HAS_PENDING: Statement = { sql: 'select exists (select 1 from lead_events where seq is null) as pending', bindings: [] }

/** Is anything waiting to be published? One index probe (lead_events_pending_idx), with the RLS context in one round trip: the relay asks every 20 ms while events flow. */
export async function hasPending(knex: Knex, ctx: SecurityContext): Promise<boolean> {
  const [rows] = (await readTogether(knex, ctx, [HAS_PENDING])) as [{ pending: boolean }[]]
  return rows[0]!.pending
}

/** Unpublished events in the order they were written, bounded in count and bytes; only the publisher calls this, under its lock. */
export async function pendingEvents(trx: Knex.Transaction, limit: number, maxBytes = EVENT_BATCH_MAX_BYTES): Promise<EventBatch> {
  return boundedBatch(trx, 'lead_events where seq is null', [], 'record_no', limit, maxBytes)
}

/** Draws `count` delivery numbers, ascending. */
export async function drawSeqs(trx: Knex.Transaction, count: number): Promise<number[]> {
  const { rows } = await trx.raw<{ rows: { seq: number }[] }>(`select nextval('lead_events_seq') as seq from generate_series(1, ?)`, [count])
  return rows.map((r) => r.seq).sort((a, b) => a - b)
}

export async function markPublished(trx: Knex.Transaction, published: readonly { id: string; seq: number }[], at: Date): Promise<void> {
  await trx.raw(
    `update lead_events e set seq = p.seq, published_at = ?
       from unnest(?::uuid[], ?::bigint[]) as p (id, seq)
      where e.id = p.id`,
    [at, published.map((p) => p.id), published.map((p) => p.seq)],
  )
}

/** NOTIFYs in the given order; PostgreSQL delivers them at commit, in this order. */
export async function notifyAll(trx: Knex.Transaction, notifications: readonly { channel: string; payload: string }[]): Promise<void> {
  if (notifications.length === 0) return
  await trx.raw(
    `select pg_notify(channel, payload)
       from (select channel, payload, n from unnest(?::text[], ?::text[]) with ordinality as t (channel, payload, n) order by n offset 0) ordered`,
    [notifications.map((n) => n.channel), notifications.map((n) => n.payload)],
  )
}

/** Deletes published events older than `before`, in batches; unpublished events are never pruned. */
export async function prunePublished(trx: Knex.Transaction, before: Date, batch: number): Promise<number> {
  const { rowCount } = await trx.raw(
    `delete from lead_events where id in (select id from lead_events where published_at < ? order by published_at limit ?)`,
    [before, batch],
  )
  return rowCount ?? 0
}
