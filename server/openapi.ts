import { createRequire } from 'node:module'
import path from 'node:path'
import { readFile } from 'node:fs/promises'
import { Router } from '@koa/router'
import { leadSchemas, leadListQuerySchema, pageQuerySchema } from '../models/lead-schemas.ts'
import { backfillSchemas } from './schemas/backfills.ts'
import { importSchemas, importUploadSchema } from './schemas/imports.ts'
import { mergeSchemas } from './schemas/merges.ts'
import { reviewListQuerySchema, reviewSchemas } from './schemas/reviews.ts'
import { eventPageQuerySchema, eventSchemas, eventStreamQuerySchema } from './schemas/events.ts'
import { protectionSchemas } from './schemas/protection.ts'

// The OpenAPI 3.1 document is built from the same JSON Schemas ajv validates with (schemas/), so
// documentation and validation cannot drift apart. /docs serves Swagger UI from the npm package.
// Every status and header the edge sends is documented (issue 15): clients generate from this
// (clients/typescript), redocly lints it and a Prism proxy checks a scripted session against it.

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` })
const header = (name: string) => ({ $ref: `#/components/headers/${name}` })
const reusable = (name: string) => ({ $ref: `#/components/responses/${name}` })
const param = (name: string) => ({ $ref: `#/components/parameters/${name}` })

/** A response with the headers every response carries (X-Request-Id) and the ones named. */
function response(description: string, options: { schema?: object; type?: string; headers?: string[] } = {}): Record<string, unknown> {
  return {
    description,
    headers: Object.fromEntries(['X-Request-Id', ...(options.headers ?? [])].map((name) => [name, header(name)])),
    ...(options.schema && { content: { [options.type ?? 'application/json']: { schema: options.schema } } }),
  }
}
const problem = (description: string, headers: string[] = []) => response(description, { schema: ref('Problem'), type: 'application/problem+json', headers })

const HEADERS = {
  'X-Request-Id': { description: 'The request id: a sane incoming X-Request-Id is kept, otherwise one is generated. Quote it when reporting a problem.', schema: { type: 'string' } },
  ETag: { description: 'The lead\'s version as a strong entity tag, `"<version>"`; send it back in If-Match or If-None-Match.', schema: { type: 'string' } },
  Location: { description: 'Where the created or running resource is.', schema: { type: 'string', format: 'uri-reference' } },
  'WWW-Authenticate': { description: 'The authentication scheme: `Bearer realm="freshplan"`.', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: '`true` when this is the stored response of an earlier request with the same Idempotency-Key (§4).', schema: { type: 'string', enum: ['true'] } },
  'Cache-Control': { description: '`no-store`: the response holds personal data.', schema: { type: 'string' } },
  'Content-Disposition': { description: 'Saves the export as `lead-<id>.json`.', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } },
}

const PARAMETERS = {
  id: { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
  userId: { name: 'userId', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9._@:|-]+$' } },
  IfMatch: { name: 'If-Match', in: 'header', required: true, schema: { type: 'string' }, description: 'The ETag of the version being changed (`"<version>"`); without it 428, with an older one 412.' },
  IfNoneMatch: { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'An ETag the client holds; when it is current the answer is 304 without a body.' },
  IdempotencyKey: { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' }, description: 'Makes a retry safe: the first response is stored with the request\'s writes and replayed (Idempotent-Replayed: true) for 24 h; the same key with a different request is 422, while the first still runs 409.' },
  LastEventId: { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string', pattern: '^[0-9]{1,15}$' }, description: 'Resume after this sequence number (EventSource sends it on reconnect).' },
}

const RESPONSES = {
  BadRequest: problem('The request is invalid (validation-error with `errors`) or its body is not JSON (malformed-json).'),
  Unauthorized: problem('No valid bearer token.', ['WWW-Authenticate']),
  Forbidden: problem('The caller\'s role does not allow this.'),
  NotFound: problem('No such resource, or the caller may not see it.'),
  Conflict: problem('A state conflict (duplicate-lead with `existingLeadId`, invalid-status-transition, invalid-stage-transition), or idempotency-key-in-use while the first request with this Idempotency-Key still runs (with Retry-After).', ['Retry-After']),
  PreconditionFailed: problem('If-Match names an older version.'),
  PayloadTooLarge: problem('The body exceeds 1 MB.'),
  UnsupportedMediaType: problem('The body is not application/json (or application/merge-patch+json), or it is compressed.'),
  IdempotencyKeyReused: problem('This Idempotency-Key was used for a different request (idempotency-key-reused).'),
  PreconditionRequired: problem('If-Match is missing.'),
  InternalError: problem('An unexpected error; the detail quotes the request id.'),
  Unavailable: problem('The database is unreachable, the process is shutting down, or (the event stream) it holds SSE_MAX_STREAMS streams already; retry.', ['Retry-After']),
}

interface Operation {
  operationId: string
  summary: string
  description?: string
  tags: string[]
  parameters?: object[]
  requestBody?: object
  security?: object[]
  /** Success (and other specific) responses; the edge's problems are added by kind. */
  responses: Record<string, unknown>
}

/**
 * The problems an /api operation can answer besides its own: every one may be unauthenticated,
 * invalid, failing or unavailable; one with a body may be too large or of the wrong type; POST and
 * PATCH take an Idempotency-Key and replay their success responses with Idempotent-Replayed.
 */
function api(method: 'get' | 'post' | 'put' | 'patch' | 'delete', operation: Operation, extra: { forbidden?: boolean; notFound?: boolean } = {}): Operation {
  const hasBody = method === 'post' || method === 'put' || method === 'patch'
  const idempotent = method === 'post' || method === 'patch'
  const responses: Record<string, unknown> = {}
  for (const [status, value] of Object.entries(operation.responses)) {
    const success = Number(status) < 300
    responses[status] = idempotent && success && typeof value === 'object' && value !== null && 'headers' in value
      ? { ...value, headers: { ...(value.headers as object), 'Idempotent-Replayed': header('Idempotent-Replayed') } }
      : value
  }
  responses['400'] ??= reusable('BadRequest')
  responses['401'] ??= reusable('Unauthorized')
  if (extra.forbidden) responses['403'] ??= reusable('Forbidden')
  if (extra.notFound) responses['404'] ??= reusable('NotFound')
  if (idempotent) responses['409'] ??= reusable('Conflict')
  if (hasBody) {
    responses['413'] = reusable('PayloadTooLarge')
    responses['415'] = reusable('UnsupportedMediaType')
  }
  if (idempotent) responses['422'] = reusable('IdempotencyKeyReused')
  responses['500'] = reusable('InternalError')
  responses['503'] = reusable('Unavailable')
  return { ...operation, parameters: [...(operation.parameters ?? []), ...(idempotent ? [param('IdempotencyKey')] : [])], responses }
}

/** Turns our `$ref: 'ActivityCreate'` ($id references) into OpenAPI component references. */
function componentRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(componentRefs)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== '$id')
        .map(([key, v]) => [key, key === '$ref' && typeof v === 'string' && !v.startsWith('#') ? `#/components/schemas/${v}` : componentRefs(v)]),
    )
  }
  return value
}

const queryParams = (schema: { properties: Record<string, unknown> }) =>
  Object.entries(schema.properties).map(([name, s]) => ({ name, in: 'query', required: false, schema: componentRefs(s) }))

/**
 * The query schemas become parameters; the other payload schemas are components. ImportOptions
 * validates the upload's form fields after parsing; the document shows them as ImportUpload.
 */
const QUERY_SCHEMAS = new Set<string>([leadListQuerySchema.$id, pageQuerySchema.$id, eventPageQuerySchema.$id, eventStreamQuerySchema.$id, reviewListQuerySchema.$id, 'Login', 'ImportOptions'])

const page = (item: string) => ({ type: 'object', required: ['data', 'nextCursor'], properties: { data: { type: 'array', items: ref(item) }, nextCursor: { type: ['string', 'null'], description: 'pass as `cursor` for the next page; null on the last' } } })

export function openApiDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = Object.fromEntries(
    [...leadSchemas, ...eventSchemas, ...backfillSchemas, ...mergeSchemas, ...protectionSchemas, ...reviewSchemas, ...importSchemas, importUploadSchema].filter((s) => !QUERY_SCHEMAS.has(s.$id)).map((s) => [s.$id, componentRefs(s)]),
  )
  schemas.Problem = {
    type: 'object',
    description: 'RFC 9457 problem details; `type` is https://freshplan.example/problems/<slug>.',
    required: ['type', 'title', 'status'],
    properties: {
      type: { type: 'string', format: 'uri' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      instance: { type: 'string', description: 'the request path' },
      errors: { type: 'array', description: 'validation-error: what is wrong where', items: { type: 'object', required: ['pointer', 'message'], properties: { pointer: { type: 'string', description: 'JSON Pointer into the body, or /query/<name>, /headers/<name>, /path/<name>' }, message: { type: 'string' } } } },
      existingLeadId: { type: 'string', format: 'uuid', description: 'duplicate-lead: the live lead holding the e-mail address, when the caller may see it' },
    },
  }
  schemas.LeadPage = { ...page('Lead'), properties: { ...page('Lead').properties, total: { type: 'integer', description: 'with includeTotal=true' } } }
  schemas.ActivityPage = page('Activity')
  schemas.BackfillCollisionPage = page('BackfillCollision')
  schemas.ReviewPage = page('Review')
  schemas.ImportErrorPage = page('ImportError')
  schemas.Territory = {
    type: 'object',
    required: ['code', 'name', 'currency', 'vatRate', 'locale', 'timeZone'],
    properties: { code: { enum: ['DE', 'CH'] }, name: { type: 'string' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' }, vatRate: { type: 'number', description: 'percent, e.g. 19 or 8.1' }, locale: { type: 'string' }, timeZone: { type: 'string', description: 'IANA time zone' } },
  }
  schemas.TerritoryList = { type: 'object', required: ['data'], properties: { data: { type: 'array', items: ref('Territory') } } }
  schemas.Liveness = { type: 'object', required: ['status'], properties: { status: { const: 'UP' } } }
  const check = { enum: ['UP', 'DOWN'] }
  schemas.Readiness = {
    type: 'object',
    required: ['status', 'checks'],
    properties: { status: { enum: ['UP', 'DOWN', 'DRAINING'] }, checks: { type: 'object', required: ['database', 'queue'], properties: { database: check, queue: check } } },
  }
  const lead = (description: string, status = '200') => ({ [status]: response(description, { schema: ref('Lead'), headers: ['ETag'] }) })
  const leadBody = { required: true, content: { 'application/json': { schema: ref('LeadPatch') }, 'application/merge-patch+json': { schema: ref('LeadPatch') } } }
  const body = (schema: string, required = true) => ({ required, content: { 'application/json': { schema: ref(schema) } } })
  const backfillResponse = (description: string) => response(description, { schema: ref('Backfill'), headers: ['Location'] })
  return {
    openapi: '3.1.0',
    info: {
      title: 'freshplan-leads',
      version: '1.0.0',
      description: 'Lead acquisition API of FreshPlan (Modul 02 Neukundengewinnung). Every response carries X-Request-Id and the browser policy headers Content-Security-Policy, X-Frame-Options, X-Content-Type-Options and Referrer-Policy; every error is an RFC 9457 problem (application/problem+json). Outside the operations below: a method a path does not support is answered 405 (method-not-allowed) with an `Allow` header listing the methods it does, an unknown method 501, an unknown path 404 (not-found), all as problems. A client slower than HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS to send its request gets a bare 408 from the HTTP server and is disconnected.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-FreshPlan' },
    },
    servers: [{ url: '/', description: 'the service itself (npm start: http://localhost:3000)' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'leads', description: 'Leads, their activities, owner and collaborators (§3, §4)' },
      { name: 'events', description: 'Lead events: catch-up pages and the SSE stream (§7)' },
      { name: 'privacy', description: 'Consent, data export and erasure (§13)' },
      { name: 'admin', description: 'Normalization backfills (§5), ADMIN only' },
      { name: 'history', description: 'Every change of a lead, written by the database (§12)' },
      { name: 'merges', description: 'Merge of duplicate leads and its undo (§12)' },
      { name: 'imports', description: 'Lead lists from CSV and XLSX files (§14)' },
      { name: 'reviews', description: 'Possible duplicates: matching and their review (§11)' },
      { name: 'reference', description: 'Reference data' },
      { name: 'health', description: 'Probes' },
    ],
    components: {
      schemas,
      headers: HEADERS,
      parameters: PARAMETERS,
      responses: RESPONSES,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    paths: {
      '/api/leads': {
        post: api('post', { operationId: 'createLead', summary: 'Create a lead', tags: ['leads'], requestBody: body('LeadCreate'), responses: { 201: response('created', { schema: ref('Lead'), headers: ['ETag', 'Location'] }) } }, { forbidden: true }),
        get: api('get', { operationId: 'listLeads', summary: 'List leads (cursor pagination)', tags: ['leads'], parameters: queryParams(leadListQuerySchema), responses: { 200: response('a page', { schema: ref('LeadPage') }) } }),
      },
      '/api/leads/{id}': {
        parameters: [param('id')],
        get: api('get', { operationId: 'getLead', summary: 'Get a lead', tags: ['leads'], parameters: [param('IfNoneMatch')], responses: { ...lead('the lead'), 304: response('If-None-Match names the current version', { headers: ['ETag'] }) } }, { notFound: true }),
        patch: api('patch', { operationId: 'patchLead', summary: 'Change a lead (JSON merge patch)', tags: ['leads'], parameters: [param('IfMatch')], requestBody: leadBody, responses: { ...lead('changed'), 412: reusable('PreconditionFailed'), 428: reusable('PreconditionRequired') } }, { forbidden: true, notFound: true }),
        delete: api('delete', { operationId: 'deleteLead', summary: 'Soft-delete a lead (MANAGER, ADMIN)', tags: ['leads'], parameters: [param('IfMatch')], responses: { 204: response('deleted'), 412: reusable('PreconditionFailed'), 428: reusable('PreconditionRequired') } }, { forbidden: true, notFound: true }),
      },
      '/api/leads/{id}/activities': {
        parameters: [param('id')],
        post: api('post', { operationId: 'addActivity', summary: 'Add an activity', tags: ['leads'], requestBody: body('ActivityCreate'), responses: { 201: response('added; ETag is the lead\'s new version', { schema: ref('Activity'), headers: ['ETag', 'Location'] }) } }, { forbidden: true, notFound: true }),
        get: api('get', { operationId: 'listActivities', summary: 'Activities, newest first', tags: ['leads'], parameters: queryParams(pageQuerySchema), responses: { 200: response('a page', { schema: ref('ActivityPage') }) } }, { notFound: true }),
      },
      '/api/leads/{id}/owner': {
        parameters: [param('id')],
        put: api('put', { operationId: 'reassignOwner', summary: 'Reassign the owner (MANAGER, ADMIN)', tags: ['leads'], requestBody: body('OwnerAssignment'), responses: lead('reassigned') }, { forbidden: true, notFound: true }),
      },
      '/api/leads/{id}/clock/stop': {
        parameters: [param('id')],
        post: api('post', {
          operationId: 'stopLeadClock',
          summary: 'Stop the protection clock (§10); MANAGER/ADMIN stop at once, SALES file a request (status REQUESTED)',
          tags: ['leads'], requestBody: body('ClockStop'),
          responses: { 200: response('stopped', { schema: ref('ClockState'), headers: ['ETag'] }), 202: response('requested; waits for a manager\'s approval', { schema: ref('ClockState'), headers: ['ETag'] }) },
        }, { notFound: true }),
      },
      '/api/leads/{id}/clock/approve': {
        parameters: [param('id')],
        post: api('post', { operationId: 'approveLeadClockStop', summary: 'Approve a requested clock stop (MANAGER, ADMIN)', tags: ['leads'], responses: { 200: response('stopped', { schema: ref('ClockState'), headers: ['ETag'] }) } }, { forbidden: true, notFound: true }),
      },
      '/api/leads/{id}/clock/resume': {
        parameters: [param('id')],
        post: api('post', { operationId: 'resumeLeadClock', summary: 'Resume the clock (MANAGER, ADMIN): the pause extends protectionUntil and progressDeadline', tags: ['leads'], responses: { 200: response('running', { schema: ref('ClockState'), headers: ['ETag'] }) } }, { forbidden: true, notFound: true }),
      },
      '/api/leads/{id}/registered-at': {
        parameters: [param('id')],
        put: api('put', { operationId: 'changeLeadRegisteredAt', summary: 'Backdate a lead (MANAGER, ADMIN); every protection date is recomputed', tags: ['leads'], requestBody: body('RegisteredAtChange'), responses: lead('changed') }, { forbidden: true, notFound: true }),
      },
      '/api/leads/{id}/collaborators/{userId}': {
        parameters: [param('id'), param('userId')],
        put: api('put', { operationId: 'addCollaborator', summary: 'Add a collaborator (MANAGER, ADMIN, owner)', tags: ['leads'], responses: lead('added') }, { forbidden: true, notFound: true }),
        delete: api('delete', { operationId: 'removeCollaborator', summary: 'Remove a collaborator (MANAGER, ADMIN, owner)', tags: ['leads'], responses: lead('removed') }, { forbidden: true, notFound: true }),
      },
      '/api/imports': {
        post: api('post', {
          operationId: 'startImport',
          summary: 'Import a lead list (CSV or XLSX, ≤ 10 MB)',
          description: 'Stores the file and queues its import; a worker reads it and creates every valid row through the rules of POST /api/leads, in batches. Hard duplicates are skipped and listed; invalid rows are listed with row and column. Follow the progress at Location. A file over 10 MB is 413, one that is neither CSV nor XLSX 415.',
          tags: ['imports'],
          requestBody: { required: true, content: { 'multipart/form-data': { schema: ref('ImportUpload') } } },
          responses: { 202: response('queued; Location points to it', { schema: ref('Import'), headers: ['Location'] }) },
        }, { forbidden: true }),
      },
      '/api/imports/{id}': {
        parameters: [param('id')],
        get: api('get', { operationId: 'getImport', summary: 'Status and progress of an import (its creator, MANAGER, ADMIN)', tags: ['imports'], responses: { 200: response('the import', { schema: ref('Import') }) } }, { notFound: true }),
      },
      '/api/imports/{id}/errors': {
        parameters: [param('id')],
        get: api('get', { operationId: 'listImportErrors', summary: 'Rows not imported (invalid or duplicate), by row', tags: ['imports'], parameters: queryParams(pageQuerySchema), responses: { 200: response('a page', { schema: ref('ImportErrorPage') }) } }, { notFound: true }),
      },
      '/api/leads/{id}/history': {
        parameters: [param('id')],
        get: api('get', { operationId: 'listLeadHistory', summary: 'Every change of the lead, newest first (written by the database itself, §12)', tags: ['history'], parameters: queryParams(pageQuerySchema), responses: { 200: response('a page', { schema: ref('HistoryPage') }) } }, { notFound: true }),
      },
      '/api/leads/{id}/merge': {
        parameters: [param('id')],
        post: api('post', {
          operationId: 'mergeLeads',
          summary: 'Merge up to four leads into this survivor (MANAGER, ADMIN)',
          description: 'Activities move to the survivor, collaborators are united, the merged leads become DELETED with mergedIntoId, their pending follow-up jobs are cancelled and their e-mails freed. Answers the survivor plus mergeId; Location points to the merge.',
          tags: ['merges'],
          parameters: [param('IfMatch')],
          requestBody: body('MergeRequest'),
          responses: {
            200: response('merged: the survivor and mergeId', { schema: { allOf: [ref('Lead'), { type: 'object', required: ['mergeId'], properties: { mergeId: { type: 'string', format: 'uuid' } } }] }, headers: ['ETag', 'Location'] }),
            409: problem('merge-across-territories, or a lead that cannot be merged'),
            412: reusable('PreconditionFailed'),
            428: reusable('PreconditionRequired'),
          },
        }, { forbidden: true, notFound: true }),
      },
      '/api/leads/{id}/consent/revoke': {
        parameters: [param('id')],
        post: api('post', {
          operationId: 'revokeConsent',
          summary: 'Withdraw the lead\'s e-mail consent (the lead\'s users, §13)',
          description: 'emailConsent false, consentRevokedAt set, a CONSENT_REVOKED activity, queued mails cancelled, freshplan.lead.consent_revoked. Repeated: the lead unchanged.',
          tags: ['privacy'],
          responses: lead('consent withdrawn'),
        }, { notFound: true }),
      },
      '/api/leads/{id}/export': {
        parameters: [param('id')],
        get: api('get', { operationId: 'exportLead', summary: 'Everything stored about the lead as one JSON document (MANAGER, ADMIN, §13)', tags: ['privacy'], responses: { 200: response('the export', { schema: ref('LeadExport'), headers: ['Cache-Control', 'Content-Disposition'] }) } }, { forbidden: true, notFound: true }),
      },
      '/api/leads/{id}/erase': {
        parameters: [param('id')],
        post: api('post', {
          operationId: 'eraseLead',
          summary: 'Erase the lead\'s personal data everywhere (MANAGER, ADMIN, §13)',
          description: 'Keeps id, territory, status and dates; empties the personal fields (companyName becomes GELÖSCHT-<id>) and removes their values from history, activities, events, mails, merges, stored responses and jobs, in one transaction. History gets an ERASED entry with the reason and the SHA-256 of the old e-mail.',
          tags: ['privacy'],
          requestBody: body('EraseRequest'),
          responses: { 204: response('erased') },
        }, { forbidden: true, notFound: true }),
      },
      '/api/leads/match': {
        post: api('post', {
          operationId: 'matchLead',
          summary: 'Possible duplicates of a lead before it is created (dry run, any role)',
          description: 'The body is a create body. Candidates best first, at most 10, score ≥ 40; those the caller may not see come without leadId and companyName. Writes nothing.',
          tags: ['reviews'],
          requestBody: body('LeadCreate'),
          responses: { 200: response('the candidates', { schema: ref('MatchResult') }) },
        }),
      },
      '/api/reviews': {
        get: api('get', { operationId: 'listReviews', summary: 'Reviews of possible duplicates, newest first (SALES: of own leads; MANAGER/ADMIN: their territories)', tags: ['reviews'], parameters: queryParams(reviewListQuerySchema), responses: { 200: response('a page', { schema: ref('ReviewPage') }) } }),
      },
      '/api/reviews/{id}': {
        parameters: [param('id')],
        get: api('get', { operationId: 'getReview', summary: 'A review', tags: ['reviews'], responses: { 200: response('the review', { schema: ref('Review') }) } }, { notFound: true }),
      },
      '/api/reviews/{id}/decision': {
        parameters: [param('id')],
        post: api('post', {
          operationId: 'decideReview',
          summary: 'Decide a review (MANAGER, ADMIN)',
          description: 'NOT_DUPLICATE: the lead and its candidates are never proposed to each other again. DISMISS: closes the review. MERGE: merges the review\'s lead and its candidates into survivorId (§12, at most 4 besides the survivor) and closes the review.',
          tags: ['reviews'],
          requestBody: body('ReviewDecision'),
          responses: { 200: response('decided', { schema: ref('Review') }), 409: problem('review-decided, or a merge that cannot be done') },
        }, { forbidden: true, notFound: true }),
      },
      '/api/merges/{id}': {
        parameters: [param('id')],
        get: api('get', { operationId: 'getMerge', summary: 'A merge: who merged what, when, field sources, undo state', tags: ['merges'], responses: { 200: response('the merge', { schema: ref('Merge') }) } }, { notFound: true }),
      },
      '/api/merges/{id}/undo': {
        parameters: [param('id')],
        post: api('post', {
          operationId: 'undoMerge',
          summary: 'Undo a merge (ADMIN any time, MANAGER within 30 days)',
          description: 'Restores the merged leads as they were and the survivor\'s fields the merge changed, except fields changed since (kept, listed in conflicts); re-enqueues open follow-ups.',
          tags: ['merges'],
          responses: { 200: response('undone', { schema: ref('MergeUndoResult') }), 409: problem('merge-already-undone or merge-undo-blocked') },
        }, { forbidden: true, notFound: true }),
      },
      '/api/admin/backfills': {
        post: api('post', {
          operationId: 'startBackfill',
          summary: 'Start a normalization backfill of your tenant (ADMIN)',
          description: 'Queues a backfill of every lead whose normalization_version differs from the code\'s (an older algorithm, or EMAIL_STRIP_PLUS_TAG switched). If one is running already, it is returned (200) instead of starting a second one.',
          tags: ['admin'],
          requestBody: body('BackfillCreate', false),
          responses: { 202: backfillResponse('started; Location points to it'), 200: backfillResponse('one was running already; Location points to it') },
        }, { forbidden: true }),
      },
      '/api/admin/backfills/{id}': {
        parameters: [param('id')],
        get: api('get', { operationId: 'getBackfill', summary: 'Progress of a backfill (ADMIN)', tags: ['admin'], responses: { 200: response('the backfill with its first collisions', { schema: ref('Backfill') }) } }, { forbidden: true, notFound: true }),
      },
      '/api/admin/backfills/{id}/collisions': {
        parameters: [param('id')],
        get: api('get', { operationId: 'listBackfillCollisions', summary: 'Collisions of a backfill, by lead id (ADMIN)', tags: ['admin'], parameters: queryParams(pageQuerySchema), responses: { 200: response('a page', { schema: ref('BackfillCollisionPage') }) } }, { forbidden: true, notFound: true }),
      },
      '/api/events/stream': {
        get: api('get', {
          operationId: 'streamEvents',
          summary: 'Server-Sent Events of the leads the caller may see (§7)',
          description: 'Each message: `id:` the outbox sequence number, `event:` the CloudEvent type, `data:` the CloudEvent JSON (data above 7680 bytes replaced by a reference, see GET /api/events/{id}). Heartbeat comments every 15 s. Reconnect with `Last-Event-ID` to receive exactly what was missed. EventSource may pass the token as `access_token` or the login cookie. A process that is shutting down answers 503; reconnect.',
          tags: ['events'],
          parameters: [param('LastEventId'), ...queryParams(eventStreamQuerySchema)],
          responses: {
            200: {
              ...response('the stream', { schema: { type: 'string' }, type: 'text/event-stream' }),
              headers: {
                'X-Request-Id': header('X-Request-Id'),
                'Cache-Control': { description: '`no-cache, no-transform`: proxies must pass events on as they come', schema: { type: 'string' } },
                'X-Accel-Buffering': { description: '`no`: nginx must not buffer the stream', schema: { type: 'string' } },
              },
            },
            429: problem('The caller has SSE_MAX_STREAMS_PER_USER streams open already (too-many-streams); close one.', ['Retry-After']),
          },
        }),
      },
      '/api/events': {
        get: api('get', { operationId: 'listEvents', summary: 'Catch-up page: events after a sequence number, in order', tags: ['events'], parameters: queryParams(eventPageQuerySchema), responses: { 200: response('a page', { schema: ref('EventPage') }) } }),
      },
      '/api/events/{id}': {
        parameters: [param('id')],
        get: api('get', { operationId: 'getEvent', summary: 'One event in full (the reference of a truncated NOTIFY)', tags: ['events'], responses: { 200: response('the event', { schema: ref('LeadCloudEvent'), type: 'application/cloudevents+json' }) } }, { notFound: true }),
      },
      '/api/territories': {
        get: api('get', { operationId: 'listTerritories', summary: 'Territories the caller may see', tags: ['reference'], responses: { 200: response('the territories, by code', { schema: ref('TerritoryList') }) } }),
      },
      '/health/live': {
        get: { operationId: 'getLiveness', summary: 'Liveness: the process answers', tags: ['health'], security: [], responses: { 200: response('up', { schema: ref('Liveness') }), 500: reusable('InternalError') } },
      },
      '/health/ready': {
        get: { operationId: 'getReadiness', summary: 'Readiness: database and pg-boss answer, not draining', tags: ['health'], security: [], responses: { 200: response('ready', { schema: ref('Readiness') }), 503: response('not ready, or draining', { schema: ref('Readiness') }), 500: reusable('InternalError') } },
      },
    },
  }
}

const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
const DOCS_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>freshplan-leads API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' })`
const DOCS_ASSETS: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'application/javascript' }

export function openApiRoutes(): Router {
  const router = new Router()
  const document = openApiDocument()
  router.get('/openapi.json', (ctx) => {
    ctx.body = document
  })
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html'
    ctx.body = DOCS_PAGE
  })
  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'application/javascript'
    ctx.body = DOCS_INIT
  })
  router.get('/docs/:asset', async (ctx) => {
    const type = DOCS_ASSETS[ctx.params.asset!]
    if (!type) return
    ctx.type = type
    ctx.set('Cache-Control', 'public, max-age=86400')
    ctx.body = await readFile(path.join(swaggerDir, ctx.params.asset!))
  })
  return router
}
