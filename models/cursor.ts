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

const PG_TIMESTAMPTZ_TEXT = /^(\d{4,6})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?[+-](\d\d)(?::[0-5]\d){0,2}$/

/**
 * Is `value` a timestamptz as PostgreSQL prints it (what a cursor carries)? A cursor is client
 * input: a forged one must be a 400, not a cast error (22007/22008) at the database.
 */
export function isTimestampText(value: string): boolean {
  if (value === 'infinity' || value === '-infinity') return true
  const match = PG_TIMESTAMPTZ_TEXT.exec(value)
  if (!match) return false
  const [year, month, day, hour, minute, second, offsetHours] = match.slice(1).map(Number) as [number, number, number, number, number, number, number]
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return year >= 1 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60 && offsetHours <= 15
}

/** A cursor's sort value fits the SQL type it is cast to (`timestamptz` or `text`), and text cannot hold NUL. */
export function isSortValue(value: string, cast: string): boolean {
  return !value.includes('\u0000') && (cast !== 'timestamptz' || isTimestampText(value))
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
export function isUuid(value: string): boolean {
  return UUID.test(value)
}
