import { Router } from '@koa/router'
import multer from '@koa/multer'
import type { Context, Middleware } from 'koa'
import type { Deps } from '../../lib/deps.ts'
import type { Tx } from '../../lib/db.ts'
import type { Principal } from '../auth.ts'
import { DomainError, problems } from '../../models/errors.ts'
import { transact } from '../transaction.ts'
import { validBody, validQuery } from '../validation.ts'
import { isUuid } from '../../models/cursor.ts'
import { detectFileType, ImportFileError, MAX_IMPORT_BYTES } from '../../models/import-file.ts'
import { createImport, DEFAULT_IMPORT_SOURCE, findImport, importErrorResource, importResource, listImportErrors, type Import, type ImportOptions } from '../../models/imports.ts'

/** The form besides the file: a few short fields (mapping is JSON of up to 200 columns). */
const MAX_FIELD_BYTES = 64 * 1024
const MULTIPART_OVERHEAD = 256 * 1024

/**
 * multipart/form-data with one part `file` (≤ 10 MB, in memory: it goes into PostgreSQL next) and
 * the option fields. A file over the limit is a 413 problem (reading stops there), any other
 * broken form a 400.
 */
function upload(): Middleware {
  const read = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: MAX_IMPORT_BYTES, files: 1, fields: 8, parts: 9, fieldSize: MAX_FIELD_BYTES, fieldNameSize: 100, headerPairs: 50 },
  }).single('file')
  return async (ctx, next) => {
    if (!ctx.request.is('multipart/form-data')) throw problems.unsupportedMediaType('Send the file as multipart/form-data with a part named "file".')
    if (Number(ctx.get('Content-Length') || '0') > MAX_IMPORT_BYTES + MULTIPART_OVERHEAD) throw tooLarge()
    try {
      await read(ctx, async () => {})
    } catch (error) {
      const code = (error as { code?: string }).code
      ctx.set('Connection', 'close') // the rest of the body is not read
      if (code === 'LIMIT_FILE_SIZE') throw tooLarge()
      throw problems.validation([{ pointer: code === 'LIMIT_UNEXPECTED_FILE' ? `/${(error as { field?: string }).field ?? 'file'}` : '', message: `the form cannot be read: ${(error as Error).message}` }])
    }
    return next()
  }
}

function tooLarge(): DomainError {
  return new DomainError({ status: 413, type: 'payload-too-large', title: 'Payload Too Large', detail: `The file exceeds ${MAX_IMPORT_BYTES} bytes (10 MB).` })
}

/** The text fields as ImportOptions: `dryRun` is "true"/"false", `mapping` JSON text. */
function importOptions(fields: Record<string, unknown>, user: Principal): ImportOptions {
  const value: Record<string, unknown> = { ...fields }
  if (typeof value.dryRun === 'string') {
    const text = value.dryRun.trim().toLowerCase()
    value.dryRun = text === 'true' ? true : text === 'false' || text === '' ? false : value.dryRun
  }
  if (typeof value.mapping === 'string') {
    if (value.mapping.trim() === '') delete value.mapping
    else {
      try {
        value.mapping = JSON.parse(value.mapping)
      } catch {
        throw problems.validation([{ pointer: '/mapping', message: 'must be a JSON object' }])
      }
    }
  }
  for (const key of ['source', 'ownerUserId']) if (value[key] === '') delete value[key]
  const options = validBody<Partial<ImportOptions>>('ImportOptions', value)
  if (options.ownerUserId !== undefined && options.ownerUserId !== user.id && user.role === 'SALES') {
    throw problems.forbidden('Only managers and admins may import leads for someone else.')
  }
  return {
    dryRun: options.dryRun ?? false,
    source: options.source ?? DEFAULT_IMPORT_SOURCE,
    ...(options.ownerUserId !== undefined && { ownerUserId: options.ownerUserId }),
    ...(options.mapping !== undefined && { mapping: options.mapping }),
  }
}

function encodeCursor(after: { row: number; id: number } | null): string | null {
  return after === null ? null : Buffer.from(JSON.stringify(after)).toString('base64url')
}

function decodeCursor(raw: string): { row: number; id: number } {
  try {
    const { row, id } = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { row?: unknown; id?: unknown }
    if (Number.isSafeInteger(row) && Number.isSafeInteger(id)) return { row: row as number, id: id as number }
  } catch {
    // fall through
  }
  throw problems.validation([{ pointer: '/query/cursor', message: 'is not a cursor of this list' }])
}

async function requireImport(tx: Tx, id: string): Promise<Import> {
  // RLS: imports of others (for SALES) and of other tenants do not exist.
  const imp = isUuid(id) ? await findImport(tx, id) : undefined
  if (!imp) throw problems.notFound(`No import ${id}.`)
  return imp
}

/** §14 imports: upload a lead list, follow its progress, page through the rows it did not import. */
export function importRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/api/imports' })

  router.post('/', upload(), async (ctx) => {
    const user = ctx.state.user as Principal
    const file = ctx.request.file as { buffer: Buffer; originalname?: string; mimetype?: string } | undefined
    if (!file) throw problems.validation([{ pointer: '/file', message: 'a file part named "file" is required' }])
    const options = importOptions((ctx.request as { body?: Record<string, unknown> }).body ?? {}, user)
    let fileType
    try {
      fileType = detectFileType(file.buffer)
    } catch (error) {
      if (error instanceof ImportFileError) throw problems.unsupportedMediaType(error.message)
      throw error
    }
    const imp = await transact(deps, ctx, (tx) =>
      createImport(deps, tx, { file: file.buffer, filename: file.originalname ?? null, contentType: file.mimetype ?? null, fileType, options }),
    )
    ctx.status = 202
    ctx.set('Location', `/api/imports/${imp.id}`)
    ctx.body = importResource(imp)
  })

  router.get('/:id', async (ctx) => {
    const imp = await transact(deps, ctx, (tx) => requireImport(tx, ctx.params.id!))
    ctx.set('Cache-Control', 'no-store')
    ctx.body = importResource(imp)
  })

  router.get('/:id/errors', async (ctx: Context & { params: Record<string, string> }) => {
    const page = validQuery<{ limit?: number; cursor?: string }>('PageQuery', ctx.query)
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor)
    const result = await transact(deps, ctx, async (tx) => {
      const imp = await requireImport(tx, ctx.params.id!)
      return listImportErrors(tx, imp.id, { limit: page.limit ?? 50, after })
    })
    ctx.body = { data: result.data.map(importErrorResource), nextCursor: encodeCursor(result.nextAfter) }
  })

  return router
}
