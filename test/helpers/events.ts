// Helpers for the event pipeline tests: leads written as the owner, changes recorded the way the
// lead service records them, a real SSE client over HTTP and a real LISTENing pg client.
import http from 'node:http'
import pg from 'pg'
import type { Knex } from '../../lib/db.ts'
import { inTransaction, systemContext, type SecurityContext, type Territory } from '../../lib/db.ts'
import type { Deps } from '../../lib/deps.ts'
import { recordLeadEvent, type LeadEventSubject } from '../../models/lead-events.ts'
import type { LeadEventType } from '../../models/events.ts'

export interface LeadSpec {
  territory?: Territory
  owner?: string
  collaborators?: string[]
  tenant?: string
  companyName?: string
}

/** Inserts a lead as the database owner (no RLS), like a fixture. */
export async function insertLead(owner: Knex, spec: LeadSpec = {}): Promise<LeadEventSubject> {
  const territory = spec.territory ?? 'DE'
  const { rows } = await owner.raw(
    `insert into leads (tenant_id, territory, company_name, country_code, stage, owner_user_id, collaborator_user_ids, created_by)
     values (?, ?, ?, ?, 'VORMERKUNG', ?, ?, ?)
     returning id, tenant_id, territory, owner_user_id, collaborator_user_ids, version`,
    [spec.tenant ?? 'default', territory, spec.companyName ?? 'Testküche GmbH', territory, spec.owner ?? 'sales-de', spec.collaborators ?? [], spec.owner ?? 'sales-de'],
  )
  const row = rows[0]
  return { id: row.id, tenantId: row.tenant_id, territory: row.territory, ownerUserId: row.owner_user_id, collaboratorUserIds: row.collaborator_user_ids, version: row.version }
}

/**
 * A lead change as the lead service makes it: bump the version under RLS, then record the event
 * in the same transaction. Returns the lead as of the change.
 */
export async function recordChange(
  deps: Deps,
  lead: LeadEventSubject,
  type: LeadEventType = 'freshplan.lead.updated',
  data: object = {},
  ctx: SecurityContext = systemContext(lead.tenantId),
): Promise<LeadEventSubject> {
  return inTransaction(deps.knex, ctx, async (tx) => {
    const { rows } = await tx.trx.raw(`update leads set version = version + 1 where id = ? returning version`, [lead.id])
    if (rows.length !== 1) throw new Error(`lead ${lead.id} not visible to ${ctx.userId}`)
    const changed = { ...lead, version: rows[0].version as number }
    await recordLeadEvent(deps, tx, { type, lead: changed, data: { leadId: lead.id, version: changed.version, ...data } })
    return changed
  })
}

export interface SseMessage {
  id?: string
  event?: string
  data: string
}

/** A real Server-Sent Events client over node:http, like a browser's EventSource without auto-reconnect. */
export class SseClient {
  readonly messages: SseMessage[] = []
  readonly comments: string[] = []
  retry?: number
  readonly closed: Promise<void>
  #request: http.ClientRequest
  #waiters = new Set<() => void>()

  private constructor(request: http.ClientRequest, response: http.IncomingMessage) {
    this.#request = request
    let buffer = ''
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      buffer += chunk
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.#frame(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
      }
      for (const wake of this.#waiters) wake()
    })
    this.closed = new Promise((resolve) => {
      response.on('close', () => {
        for (const wake of this.#waiters) wake()
        resolve()
      })
    })
  }

  static connect(url: string, options: { token?: string; lastEventId?: string | number; headers?: Record<string, string> } = {}): Promise<SseClient> {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers }
    if (options.token) headers.authorization = `Bearer ${options.token}`
    if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId)
    return new Promise((resolve, reject) => {
      const request = http.get(url, { headers }, (response) => {
        if (response.statusCode !== 200) {
          let body = ''
          response.setEncoding('utf8')
          response.on('data', (chunk) => (body += chunk))
          response.on('end', () => reject(Object.assign(new Error(`SSE connect failed: ${response.statusCode}`), { status: response.statusCode, headers: response.headers, body })))
          return
        }
        resolve(new SseClient(request, response))
      })
      request.on('error', reject)
    })
  }

  #frame(frame: string): void {
    const message: SseMessage = { data: '' }
    const data: string[] = []
    let isMessage = false
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim())
        continue
      }
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'data') {
        data.push(value)
        isMessage = true
      } else if (field === 'id') message.id = value
      else if (field === 'event') message.event = value
      else if (field === 'retry') this.retry = Number(value)
    }
    if (isMessage) {
      message.data = data.join('\n')
      this.messages.push(message)
    }
  }

  /** The CloudEvents received, parsed. */
  get events(): any[] {
    return this.messages.map((m) => JSON.parse(m.data))
  }

  async waitFor(predicate: (client: SseClient) => boolean, timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs
    while (!predicate(this)) {
      const left = until - Date.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 250))
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.#waiters.add(done)
      })
      this.#waiters.clear()
    }
    return true
  }

  close(): Promise<void> {
    this.#request.destroy()
    return this.closed
  }
}

/** A separate LISTENing connection that records what arrives on the event channels. */
export class ChannelSpy {
  readonly received: { channel: string; payload: string }[] = []
  #client: pg.Client

  private constructor(client: pg.Client) {
    this.#client = client
    client.on('notification', (n) => this.received.push({ channel: n.channel, payload: n.payload ?? '' }))
  }

  static async listen(connectionString: string): Promise<ChannelSpy> {
    const client = new pg.Client({ connectionString })
    await client.connect()
    await client.query('listen dashboard_updates; listen cross_module_events')
    return new ChannelSpy(client)
  }

  on(channel: string): any[] {
    return this.received.filter((n) => n.channel === channel).map((n) => JSON.parse(n.payload))
  }

  clear(): void {
    this.received.length = 0
  }

  close(): Promise<void> {
    return this.#client.end()
  }
}

export async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 25): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await predicate()) return true
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
  return predicate()
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
