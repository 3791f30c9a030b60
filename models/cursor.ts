// Cursors of every paginated list: an opaque base64url JSON of the last row's keyset position.
// A cursor that does not decode to what its list expects is a 400, never a 500.
import { problems } from './errors.ts'

export function encodeCursor(position: object): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url')
}

/** The position inside `raw`, if `isPosition` accepts it; else a validation error naming the cursor. */
export function decodeCursor<T>(raw: string, isPosition: (value: unknown) => value is T, message = 'is not a cursor of this list'): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
    if (isPosition(value)) return value
  } catch {
    // fall through
  }
  throw problems.validation([{ pointer: '/query/cursor', message }])
}

/** A plain object whose listed keys are all strings. */
export function hasStringKeys<K extends string>(value: unknown, ...keys: K[]): value is Record<K, string> {
  return typeof value === 'object' && value !== null && keys.every((key) => typeof (value as Record<string, unknown>)[key] === 'string')
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
export function isUuid(value: string): boolean {
  return UUID.test(value)
}
