import type { Context } from 'koa'
import { problems } from '../models/errors.ts'
import type { ExpectedVersion } from '../models/lead-commands.ts'

// A lead's ETag is its version: "7". Weak and strong forms compare equal (the version is exact).

export const etagFor = (version: number) => `"${version}"`

function versionsIn(header: string): (number | '*')[] {
  return header.split(',').map((part) => {
    const tag = part.trim()
    if (tag === '*') return '*'
    const match = /^(?:W\/)?"(\d{1,9})"$/.exec(tag)
    return match ? Number(match[1]) : -1
  })
}

/** If-Match is required for changes (428 without); a tag that cannot match anything is a 412. */
export function requiredIfMatch(ctx: Context): ExpectedVersion {
  const header = ctx.get('If-Match')
  if (!header) throw problems.preconditionRequired('Send If-Match with the ETag of the version you changed.')
  const [first, ...rest] = versionsIn(header)
  if (rest.length > 0 || first === undefined || first === -1) throw problems.preconditionFailed('If-Match must be exactly one ETag of this lead, or *.')
  return first
}

export function matchesIfNoneMatch(ctx: Context, version: number): boolean {
  const header = ctx.get('If-None-Match')
  return header !== '' && versionsIn(header).some((v) => v === '*' || v === version)
}
