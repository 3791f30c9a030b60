// The typed client of the freshplan-leads API: openapi-fetch over the types openapi-typescript
// generated from the service's OpenAPI document (schema.ts; `npm run client:generate`).
import createClient, { type Client, type ClientOptions } from 'openapi-fetch'
import type { components, paths } from './schema.ts'

export type { components, operations, paths } from './schema.ts'

type Schemas = components['schemas']
export type Lead = Schemas['Lead']
export type LeadCreate = Schemas['LeadCreate']
export type LeadPatch = Schemas['LeadPatch']
export type LeadPage = Schemas['LeadPage']
export type Activity = Schemas['Activity']
export type ActivityCreate = Schemas['ActivityCreate']
export type Territory = Schemas['Territory']
export type Backfill = Schemas['Backfill']
export type LeadCloudEvent = Schemas['LeadCloudEvent']
/** Every error response: RFC 9457 problem details. */
export type Problem = Schemas['Problem']

export type LeadsClient = Client<paths>

export interface LeadsClientOptions extends Omit<ClientOptions, 'baseUrl' | 'headers'> {
  /** Where the service is, e.g. http://localhost:3000. */
  baseUrl: string
  /** A bearer token (development: `npm run -s token -- --user u1 --role SALES --territory DE`). */
  token: string
}

/** A client whose every request carries the token. */
export function createLeadsClient(options: LeadsClientOptions): LeadsClient {
  const { token, ...rest } = options
  return createClient<paths>({ ...rest, headers: { Authorization: `Bearer ${token}` } })
}
