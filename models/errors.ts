// The one error type of the code base. The domain (and the edge) throw a DomainError; server/
// answers it as an RFC 9457 problem (server/middleware/problems.ts), a job lets pg-boss record it
// as the job's failure. Anything thrown that is not a DomainError is a bug: a 500 at the edge,
// with its details only in the log.

export interface FieldError {
  /** JSON Pointer (RFC 6901) into the request body, or `/query/<name>`, `/headers/<name>`. */
  pointer: string
  message: string
}

export interface DomainErrorInit {
  status: number
  /** Short slug; the edge turns it into the problem's `type` URI. */
  type: string
  title: string
  detail?: string
  errors?: FieldError[]
  headers?: Record<string, string>
  /** Extension members (RFC 9457 §3.2), e.g. `existingLeadId`. */
  extensions?: Record<string, unknown>
}

/** What went wrong, classified by the HTTP status it is answered with. */
export class DomainError extends Error {
  readonly status: number
  readonly type: string
  readonly title: string
  readonly detail?: string
  readonly errors?: FieldError[]
  readonly headers: Record<string, string>
  readonly extensions: Record<string, unknown>

  constructor(init: DomainErrorInit) {
    super(init.detail ?? init.title)
    this.name = 'DomainError'
    this.status = init.status
    this.type = init.type
    this.title = init.title
    this.detail = init.detail
    this.errors = init.errors
    this.headers = init.headers ?? {}
    this.extensions = init.extensions ?? {}
  }
}

export const problems = {
  validation: (errors: FieldError[], detail = 'The request is not valid.') =>
    new DomainError({ status: 400, type: 'validation-error', title: 'Validation failed', detail, errors }),
  malformedJson: (detail: string) => new DomainError({ status: 400, type: 'malformed-json', title: 'Malformed JSON', detail }),
  unauthorized: (detail = 'A valid bearer token is required.') =>
    new DomainError({ status: 401, type: 'unauthorized', title: 'Unauthorized', detail, headers: { 'WWW-Authenticate': 'Bearer realm="freshplan"' } }),
  forbidden: (detail = 'Your role does not allow this.') => new DomainError({ status: 403, type: 'forbidden', title: 'Forbidden', detail }),
  notFound: (detail = 'No such resource.') => new DomainError({ status: 404, type: 'not-found', title: 'Not Found', detail }),
  methodNotAllowed: (allowed: string) =>
    new DomainError({ status: 405, type: 'method-not-allowed', title: 'Method Not Allowed', headers: { Allow: allowed } }),
  conflict: (type: string, title: string, detail: string, extensions?: Record<string, unknown>) =>
    new DomainError({ status: 409, type, title, detail, extensions }),
  preconditionFailed: (detail: string) => new DomainError({ status: 412, type: 'precondition-failed', title: 'Precondition Failed', detail }),
  payloadTooLarge: (limit: number) =>
    new DomainError({ status: 413, type: 'payload-too-large', title: 'Payload Too Large', detail: `The body exceeds ${limit} bytes.` }),
  unsupportedMediaType: (detail: string) => new DomainError({ status: 415, type: 'unsupported-media-type', title: 'Unsupported Media Type', detail }),
  preconditionRequired: (detail: string) => new DomainError({ status: 428, type: 'precondition-required', title: 'Precondition Required', detail }),
  unavailable: (detail = 'The service is temporarily unavailable.') =>
    new DomainError({ status: 503, type: 'service-unavailable', title: 'Service Unavailable', detail, headers: { 'Retry-After': '1' } }),
}
