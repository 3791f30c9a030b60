import { createRequire } from 'node:module'
import path from 'node:path'
import { readFile } from 'node:fs/promises'
import { Router } from '@koa/router'
import { leadSchemas, leadListQuerySchema, pageQuerySchema } from '../models/lead-schemas.ts'
import { backfillSchemas } from './schemas/backfills.ts'
import { importSchemas, importUploadSchema } from './schemas/imports.ts'
import { mergeSchemas } from './schemas/merges.ts'
import { eventPageQuerySchema, eventSchemas, eventStreamQuerySchema } from './schemas/events.ts'

// The OpenAPI 3.1 document is built from the same JSON Schemas ajv validates with (schemas/), so
// documentation and validation cannot drift apart. /docs serves Swagger UI from the npm package.

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` })
const json = (schema: object) => ({ content: { 'application/json': { schema } } })
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } })
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }
const ifMatch = { name: 'If-Match', in: 'header', required: true, schema: { type: 'string' }, description: 'ETag of the version being changed ("<version>")' }
const idempotencyKey = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 } }
const queryParams = (schema: { properties: Record<string, unknown> }) =>
  Object.entries(schema.properties).map(([name, s]) => ({ name, in: 'query', required: false, schema: s }))
const errors = { 400: problem('invalid request'), 401: problem('missing or invalid token'), 403: problem('role not allowed'), 404: problem('not found or not visible') }

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

export function openApiDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = Object.fromEntries([...leadSchemas, ...eventSchemas, ...backfillSchemas, ...mergeSchemas, ...importSchemas, importUploadSchema].map((s) => [s.$id, componentRefs(s)]))
  schemas.Problem = {
    type: 'object',
    properties: {
      type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, instance: { type: 'string' },
      errors: { type: 'array', items: { type: 'object', properties: { pointer: { type: 'string' }, message: { type: 'string' } } } },
    },
  }
  schemas.LeadPage = { type: 'object', properties: { data: { type: 'array', items: ref('Lead') }, nextCursor: { type: ['string', 'null'] }, total: { type: 'integer' } } }
  schemas.BackfillCollisionPage = { type: 'object', properties: { data: { type: 'array', items: ref('BackfillCollision') }, nextCursor: { type: ['string', 'null'] } } }
  schemas.ImportErrorPage = { type: 'object', properties: { data: { type: 'array', items: ref('ImportError') }, nextCursor: { type: ['string', 'null'] } } }
  schemas.ActivityPage = { type: 'object', properties: { data: { type: 'array', items: ref('Activity') }, nextCursor: { type: ['string', 'null'] } } }
  return {
    openapi: '3.1.0',
    info: { title: 'freshplan-leads', version: '1.0.0', description: 'Lead acquisition API of FreshPlan (Modul 02 Neukundengewinnung).' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths: {
      '/api/leads': {
        post: { summary: 'Create a lead', parameters: [idempotencyKey], requestBody: { required: true, ...json(ref('LeadCreate')) }, responses: { 201: { description: 'created', ...json(ref('Lead')) }, 409: problem('duplicate lead'), ...errors } },
        get: { summary: 'List leads (cursor pagination)', parameters: queryParams(leadListQuerySchema), responses: { 200: { description: 'a page', ...json(ref('LeadPage')) }, ...errors } },
      },
      '/api/leads/{id}': {
        get: { summary: 'Get a lead', parameters: [idParam], responses: { 200: { description: 'the lead; ETag header', ...json(ref('Lead')) }, 304: { description: 'not modified' }, ...errors } },
        patch: { summary: 'Change a lead (JSON merge patch)', parameters: [idParam, ifMatch, idempotencyKey], requestBody: { required: true, content: { 'application/merge-patch+json': { schema: ref('LeadPatch') }, 'application/json': { schema: ref('LeadPatch') } } }, responses: { 200: { description: 'changed', ...json(ref('Lead')) }, 409: problem('invalid status transition or duplicate'), 412: problem('version mismatch'), 428: problem('If-Match missing'), ...errors } },
        delete: { summary: 'Soft-delete a lead (MANAGER, ADMIN)', parameters: [idParam, ifMatch], responses: { 204: { description: 'deleted' }, 412: problem('version mismatch'), 428: problem('If-Match missing'), ...errors } },
      },
      '/api/leads/{id}/activities': {
        post: { summary: 'Add an activity', parameters: [idParam, idempotencyKey], requestBody: { required: true, ...json(ref('ActivityCreate')) }, responses: { 201: { description: 'added', ...json(ref('Activity')) }, ...errors } },
        get: { summary: 'Activities, newest first', parameters: [idParam, ...queryParams(pageQuerySchema)], responses: { 200: { description: 'a page', ...json(ref('ActivityPage')) }, ...errors } },
      },
      '/api/leads/{id}/owner': {
        put: { summary: 'Reassign the owner (MANAGER, ADMIN)', parameters: [idParam], requestBody: { required: true, ...json(ref('OwnerAssignment')) }, responses: { 200: { description: 'reassigned', ...json(ref('Lead')) }, ...errors } },
      },
      '/api/leads/{id}/collaborators/{userId}': {
        put: { summary: 'Add a collaborator (MANAGER, ADMIN, owner)', parameters: [idParam, { name: 'userId', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'added', ...json(ref('Lead')) }, ...errors } },
        delete: { summary: 'Remove a collaborator (MANAGER, ADMIN, owner)', parameters: [idParam, { name: 'userId', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'removed', ...json(ref('Lead')) }, ...errors } },
      },
      '/api/imports': {
        post: {
          summary: 'Import a lead list (CSV or XLSX, ≤ 10 MB)',
          description: 'Stores the file and queues its import; a worker reads it and creates every valid row through the rules of POST /api/leads, in batches. Hard duplicates are skipped and listed; invalid rows are listed with row and column. Follow the progress at Location.',
          requestBody: { required: true, content: { 'multipart/form-data': { schema: ref('ImportUpload') } } },
          responses: { 202: { description: 'queued; Location points to it', ...json(ref('Import')) }, 413: problem('file larger than 10 MB'), 415: problem('neither CSV nor XLSX'), ...errors },
        },
      },
      '/api/imports/{id}': {
        get: { summary: 'Status and progress of an import (its creator, MANAGER, ADMIN)', parameters: [idParam], responses: { 200: { description: 'the import', ...json(ref('Import')) }, ...errors } },
      },
      '/api/imports/{id}/errors': {
        get: { summary: 'Rows not imported (invalid or duplicate), by row', parameters: [idParam, ...queryParams(pageQuerySchema)], responses: { 200: { description: 'a page', ...json(ref('ImportErrorPage')) }, ...errors } },
      },
      '/api/leads/{id}/history': {
        get: { summary: 'Every change of the lead, newest first (written by the database itself, §12)', parameters: [idParam, ...queryParams(pageQuerySchema)], responses: { 200: { description: 'a page', ...json(ref('HistoryPage')) }, ...errors } },
      },
      '/api/leads/{id}/merge': {
        post: {
          summary: 'Merge up to four leads into this survivor (MANAGER, ADMIN)',
          description: 'Activities move to the survivor, collaborators are united, the merged leads become DELETED with mergedIntoId, their pending follow-up jobs are cancelled and their e-mails freed. Answers the survivor plus mergeId; Location points to the merge.',
          parameters: [idParam, ifMatch, idempotencyKey],
          requestBody: { required: true, ...json(ref('MergeRequest')) },
          responses: { 200: { description: 'merged: the survivor and mergeId', ...json({ allOf: [ref('Lead'), { type: 'object', properties: { mergeId: { type: 'string', format: 'uuid' } } }] }) }, 409: problem('merge-across-territories, or a lead that cannot be merged'), 412: problem('survivor version mismatch'), 428: problem('If-Match missing'), ...errors },
        },
      },
      '/api/merges/{id}': {
        get: { summary: 'A merge: who merged what, when, field sources, undo state', parameters: [idParam], responses: { 200: { description: 'the merge', ...json(ref('Merge')) }, ...errors } },
      },
      '/api/merges/{id}/undo': {
        post: {
          summary: 'Undo a merge (ADMIN any time, MANAGER within 30 days)',
          description: 'Restores the merged leads as they were and the survivor\'s fields the merge changed, except fields changed since (kept, listed in conflicts); re-enqueues open follow-ups.',
          parameters: [idParam, idempotencyKey],
          responses: { 200: { description: 'undone', ...json(ref('MergeUndoResult')) }, 409: problem('merge-already-undone or merge-undo-blocked'), ...errors },
        },
      },
      '/api/admin/backfills': {
        post: {
          summary: 'Start a normalization backfill of your tenant (ADMIN)',
          description: 'Queues a backfill of every lead whose normalization_version is older than the code\'s. If one is running already, it is returned (200) instead of starting a second one.',
          requestBody: { required: false, ...json(ref('BackfillCreate')) },
          responses: { 202: { description: 'started; Location points to it', ...json(ref('Backfill')) }, 200: { description: 'one was running already; Location points to it', ...json(ref('Backfill')) }, ...errors },
        },
      },
      '/api/admin/backfills/{id}': {
        get: { summary: 'Progress of a backfill (ADMIN)', parameters: [idParam], responses: { 200: { description: 'the backfill with its first collisions', ...json(ref('Backfill')) }, ...errors } },
      },
      '/api/admin/backfills/{id}/collisions': {
        get: { summary: 'Collisions of a backfill, by lead id (ADMIN)', parameters: [idParam, ...queryParams(pageQuerySchema)], responses: { 200: { description: 'a page', ...json(ref('BackfillCollisionPage')) }, ...errors } },
      },
      '/api/events/stream': {
        get: {
          summary: 'Server-Sent Events of the leads the caller may see (§7)',
          description: 'Each message: `id:` the outbox sequence number, `event:` the CloudEvent type, `data:` the CloudEvent JSON (data above 7680 bytes replaced by a reference, see GET /api/events/{id}). Heartbeat comments every 15 s. Reconnect with `Last-Event-ID` to receive exactly what was missed. EventSource may pass the token as `access_token` or the login cookie.',
          parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string', pattern: '^[0-9]{1,15}$' } }, ...queryParams(eventStreamQuerySchema)],
          responses: { 200: { description: 'the stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, 400: errors[400], 401: errors[401] },
        },
      },
      '/api/events': {
        get: { summary: 'Catch-up page: events after a sequence number, in order', parameters: queryParams(eventPageQuerySchema), responses: { 200: { description: 'a page', ...json(ref('EventPage')) }, 400: errors[400], 401: errors[401] } },
      },
      '/api/events/{id}': {
        get: { summary: 'One event in full (the reference of a truncated NOTIFY)', parameters: [idParam], responses: { 200: { description: 'the event', content: { 'application/cloudevents+json': { schema: ref('LeadCloudEvent') } } }, 401: errors[401], 404: errors[404] } },
      },
      '/api/territories': { get: { summary: 'Territories the caller may see', responses: { 200: { description: 'territories' }, 401: errors[401] } } },
      '/health/live': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'up' } } } },
      '/health/ready': { get: { summary: 'Readiness (database, pg-boss)', security: [], responses: { 200: { description: 'ready' }, 503: { description: 'not ready' } } } },
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
