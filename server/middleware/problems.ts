import { STATUS_CODES } from 'node:http'
import type { Middleware } from 'koa'
import { DomainError, problems } from '../../models/errors.ts'

export const PROBLEM_BASE = 'https://freshplan.example/problems/'

/** The RFC 9457 body of an error. */
export function problemBody(error: DomainError, instance?: string): Record<string, unknown> {
  return {
    ...error.extensions,
    type: PROBLEM_BASE + error.type,
    title: error.title,
    status: error.status,
    ...(error.detail !== undefined && { detail: error.detail }),
    ...(instance !== undefined && { instance }),
    ...(error.errors !== undefined && { errors: error.errors }),
  }
}

const DB_UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004'])

/** True for errors that mean "the database is not reachable right now", not "the request is wrong". */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && DB_UNAVAILABLE_CODES.has(code)) return true
  return /Knex: Timeout acquiring a connection|Connection terminated|Client has encountered a connection error/.test(error.message)
}

/**
 * Turns every error into an RFC 9457 problem response. Known problems keep their status and text;
 * anything else is logged with its stack under the request id and answered without internals.
 */
export function problemResponses(): Middleware {
  return async (ctx, next) => {
    try {
      await next()
      // Statuses set without a body (no route, router's 405/501) become problems too.
      if (ctx.status >= 400 && ctx.body == null) throw bodilessProblem(ctx.status, ctx.method, ctx.path)
    } catch (caught) {
      let problem: DomainError
      if (caught instanceof DomainError) problem = caught
      else if (isUnavailable(caught)) {
        problem = problems.unavailable()
        ctx.state.logger?.warn({ err: caught }, 'dependency unavailable')
      } else {
        problem = new DomainError({ status: 500, type: 'internal-error', title: 'Internal Server Error', detail: `Something went wrong; quote request id ${ctx.state.requestId}.` })
        ctx.state.logger?.error({ err: caught }, 'unhandled error')
      }
      ctx.status = problem.status
      ctx.set(problem.headers)
      ctx.type = 'application/problem+json'
      ctx.body = problemBody(problem, ctx.path)
    }
  }
}

function bodilessProblem(status: number, method: string, path: string): DomainError {
  if (status === 404) return problems.notFound(`No route for ${method} ${path}.`)
  const title = STATUS_CODES[status] ?? 'Error'
  return new DomainError({ status, type: title.toLowerCase().replaceAll(/[^a-z]+/g, '-'), title })
}
