// The one error type of the HTTP edge. Anything thrown that is not a Problem becomes a 500 whose
// details stay in the log (see middleware/problems.ts).

export interface FieldError {
  /** JSON Pointer (RFC 6901) into the request body, or `/query/<name>`, `/headers/<name>`. */
  pointer: string
  message: string
}

export interface ProblemInit {
  status: number
  /** Short slug; becomes `type` = PROBLEM_BASE + slug. */
  type: string
  title: string
  detail?: string
  errors?: FieldError[]
  headers?: Record<string, string>
  /** Extension members (RFC 9457 §3.2), e.g. `existingLeadId`. */
  extensions?: Record<string, unknown>
}

export const PROBLEM_BASE = 'https://freshplan.example/problems/'

export class Problem extends Error {
  readonly status: number
  readonly type: string
  readonly title: string
  readonly detail?: string
  readonly errors?: FieldError[]
  readonly headers: Record<string, string>
  readonly extensions: Record<string, unknown>

  constructor(init: ProblemInit) {
    super(init.detail ?? init.title)
    this.name = 'Problem'
    this.status = init.status
    this.type = init.type
    this.title = init.title
    this.detail = init.detail
    this.errors = init.errors
    this.headers = init.headers ?? {}
    this.extensions = init.extensions ?? {}
  }

  toJSON(instance?: string): Record<string, unknown> {
    return {
      ...this.extensions,
      type: PROBLEM_BASE + this.type,
      title: this.title,
      status: this.status,
      ...(this.detail !== undefined && { detail: this.detail }),
      ...(instance !== undefined && { instance }),
      ...(this.errors !== undefined && { errors: this.errors }),
    }
  }
}

export const problems = {
  validation: (errors: FieldError[], detail = 'The request is not valid.') =>
    new Problem({ status: 400, type: 'validation-error', title: 'Validation failed', detail, errors }),
  malformedJson: (detail: string) => new Problem({ status: 400, type: 'malformed-json', title: 'Malformed JSON', detail }),
  unauthorized: (detail = 'A valid bearer token is required.') =>
    new Problem({ status: 401, type: 'unauthorized', title: 'Unauthorized', detail, headers: { 'WWW-Authenticate': 'Bearer realm="freshplan"' } }),
  forbidden: (detail = 'Your role does not allow this.') => new Problem({ status: 403, type: 'forbidden', title: 'Forbidden', detail }),
  notFound: (detail = 'No such resource.') => new Problem({ status: 404, type: 'not-found', title: 'Not Found', detail }),
  methodNotAllowed: (allowed: string) =>
    new Problem({ status: 405, type: 'method-not-allowed', title: 'Method Not Allowed', headers: { Allow: allowed } }),
  conflict: (type: string, title: string, detail: string, extensions?: Record<string, unknown>) =>
    new Problem({ status: 409, type, title, detail, extensions }),
  preconditionFailed: (detail: string) => new Problem({ status: 412, type: 'precondition-failed', title: 'Precondition Failed', detail }),
  payloadTooLarge: (limit: number) =>
    new Problem({ status: 413, type: 'payload-too-large', title: 'Payload Too Large', detail: `The body exceeds ${limit} bytes.` }),
  unsupportedMediaType: (detail: string) => new Problem({ status: 415, type: 'unsupported-media-type', title: 'Unsupported Media Type', detail }),
  preconditionRequired: (detail: string) => new Problem({ status: 428, type: 'precondition-required', title: 'Precondition Required', detail }),
  unavailable: (detail = 'The service is temporarily unavailable.') =>
    new Problem({ status: 503, type: 'service-unavailable', title: 'Service Unavailable', detail, headers: { 'Retry-After': '1' } }),
}
