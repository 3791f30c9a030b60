// Who can act and where (DOMAIN.md §2): the one definition of roles, territories and the
// all-tenants marker. lib/db.ts builds security contexts from them; models and the edge import them.

/** Roles a user's token may carry, strongest first. */
export const USER_ROLES = ['ADMIN', 'MANAGER', 'SALES'] as const
export type UserRole = typeof USER_ROLES[number]

/** SYSTEM is internal: jobs and data maintenance, never a token's role. */
export type Role = UserRole | 'SYSTEM'

/** Roles that see and act on every lead of their territories. */
export const MANAGER_ROLES: readonly Role[] = ['MANAGER', 'ADMIN']

export const TERRITORIES = ['DE', 'CH'] as const
export type Territory = typeof TERRITORIES[number]

/** The tenant of a SYSTEM context that may read (never write) rows of every tenant (V0004's policies). */
export const ALL_TENANTS = '*'

/** The user id of work done by the system itself (jobs, sweeps). */
export const SYSTEM_USER_ID = 'system'

/** What app_user(), app_tenant() and app_role() read when no context is set (V0001); no token may claim it. */
export const UNSET_CONTEXT_MARKER = '-'
