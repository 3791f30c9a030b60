import test from 'ava'
import { SignJWT } from 'jose'
import { createTokenVerifier } from '../../server/auth.ts'

const secret = new TextEncoder().encode('unit-secret-unit-secret-unit-secret-0123')
const verifier = () => createTokenVerifier({ kind: 'hs256', secret })
const sign = (exp: number, sub = 'u1') => new SignJWT({ roles: ['SALES'], territories: ['DE'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(exp).sign(secret)
const nowSeconds = () => Math.floor(Date.now() / 1000)

test('a verified token is served from the cache; another token is verified on its own', async (t) => {
  const verify = verifier()
  const token = await sign(nowSeconds() + 600)
  const first = await verify(token)
  t.is(await verify(token), first)
  t.true(Object.isFrozen(first))
  const other = await verify(await sign(nowSeconds() + 600, 'u2'))
  t.is(other.id, 'u2')
})

test('a failed token is never cached, and a cached token stops working once it expires', async (t) => {
  t.timeout(20_000)
  const verify = verifier()
  await t.throwsAsync(verify(await sign(nowSeconds() - 60)))
  const shortLived = await sign(nowSeconds() + 1)
  t.is((await verify(shortLived)).id, 'u1')
  // jose allows 5 s of clock skew; past that the cache must not keep the token alive.
  await new Promise((resolve) => setTimeout(resolve, 7_500))
  await t.throwsAsync(verify(shortLived))
})
