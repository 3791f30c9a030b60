// `npm run token -- --user u1 --role SALES --territory DE [--territory CH] [--name "Ann"] [--tenant default] [--hours 8]`
// Prints a development token signed with AUTH_JWT_SECRET (or the development default).
import { parseArgs } from 'node:util'
import { SignJWT } from 'jose'
import { loadConfigOrExit } from '../lib/config.ts'
import { MAX_TOKEN_LIFETIME_SECONDS } from '../server/auth.ts'

const { values } = parseArgs({
  options: {
    user: { type: 'string', default: 'dev-user' },
    name: { type: 'string' },
    role: { type: 'string', multiple: true, default: ['SALES'] },
    territory: { type: 'string', multiple: true, default: ['DE'] },
    tenant: { type: 'string', default: 'default' },
    hours: { type: 'string', default: '8' },
  },
})
const hours = Number(values.hours)
if (!(hours > 0 && hours * 3600 <= MAX_TOKEN_LIFETIME_SECONDS)) {
  console.error(`--hours must be more than 0 and at most ${MAX_TOKEN_LIFETIME_SECONDS / 3600}: the service refuses longer-lived tokens.`)
  process.exit(2)
}
const config = loadConfigOrExit({ DATABASE_URL: 'postgres://unused/unused', ...process.env })
if (config.auth.kind !== 'hs256') {
  console.error('AUTH_JWKS_URL is set: tokens come from your identity provider, not from this command.')
  process.exit(2)
}
let jwt = new SignJWT({ name: values.name ?? values.user, roles: values.role, territories: values.territory, tenant: values.tenant })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject(values.user!)
  .setIssuedAt()
  .setExpirationTime(`${hours}h`)
if (config.auth.issuer) jwt = jwt.setIssuer(config.auth.issuer)
if (config.auth.audience) jwt = jwt.setAudience(config.auth.audience)
console.log(await jwt.sign(config.auth.secret))
