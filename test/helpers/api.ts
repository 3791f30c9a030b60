// HTTP helpers for API tests: real tokens signed like an identity provider would, real requests.
import { SignJWT } from 'jose'
import { TEST_JWT_SECRET } from './stack.ts'

export interface TokenClaims {
  user: string
  role?: 'SALES' | 'MANAGER' | 'ADMIN' | string
  roles?: readonly string[]
  territories?: readonly string[]
  tenant?: string
  expiresIn?: string | number
}

const secret = new TextEncoder().encode(TEST_JWT_SECRET)

export async function tokenFor(claims: TokenClaims): Promise<string> {
  const jwt = new SignJWT({ name: claims.user, roles: claims.roles ?? [claims.role ?? 'SALES'], territories: claims.territories ?? ['DE'], tenant: claims.tenant ?? 'default' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.user)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '1h')
  return jwt.sign(secret)
}

export interface ApiResponse<T = any> {
  status: number
  headers: Headers
  body: T
}

export interface RequestOptions {
  token?: string
  body?: unknown
  headers?: Record<string, string>
}

export function apiClient(baseUrl: string) {
  return async function request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token) headers.authorization = `Bearer ${options.token}`
    let body: string | undefined
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
      headers['content-type'] ??= 'application/json'
    }
    const response = await fetch(baseUrl + path, { method, headers, body })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      // not JSON; keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed as T }
  }
}

export type Api = ReturnType<typeof apiClient>
