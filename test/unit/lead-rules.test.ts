import test from 'ava'
import {
  ACTIVITY_TYPES, LEAD_SOURCES, LEAD_STAGES, LEAD_STATUSES, USER_ROLES, SYSTEM_ACTIVITY_TYPES, USER_ACTIVITY_TYPES,
  checkStageChange, checkStatusTransition, countsAsProgress, initialStage, isMeaningfulActivity, isTerminalStatus,
  isUserActivityType, requiresFirstContact, statusAfterActivity, statusChangeSummary, territoryForCountry,
} from '../../models/lead-rules.ts'
import type { ActivityType, LeadStatus, UserRole } from '../../models/lead-rules.ts'

test('territory follows the country: CH → CH, everything else → DE, ignoring case and blanks', (t) => {
  t.is(territoryForCountry('CH'), 'CH')
  t.is(territoryForCountry('ch'), 'CH')
  t.is(territoryForCountry(' Ch '), 'CH')
  t.is(territoryForCountry('DE'), 'DE')
  t.is(territoryForCountry('AT'), 'DE')
  t.is(territoryForCountry('at'), 'DE')
  t.is(territoryForCountry('FR'), 'DE')
  t.is(territoryForCountry(''), 'DE')
})

// The §3 list, written out independently of the module's table.
const allowedBySpec = new Set([
  'REGISTERED>ACTIVE', 'REGISTERED>QUALIFIED', 'REGISTERED>EXPIRED',
  'ACTIVE>QUALIFIED', 'ACTIVE>REMINDER', 'ACTIVE>EXPIRED',
  'REMINDER>ACTIVE', 'REMINDER>GRACE_PERIOD', 'REMINDER>QUALIFIED', 'REMINDER>EXPIRED',
  'GRACE_PERIOD>ACTIVE', 'GRACE_PERIOD>QUALIFIED', 'GRACE_PERIOD>EXPIRED',
  'QUALIFIED>CONVERTED', 'QUALIFIED>LOST',
  'EXPIRED>ACTIVE',
])
const allRoles: (UserRole | 'SYSTEM')[] = [...USER_ROLES, 'SYSTEM']

test('every status pair for every role is allowed exactly as §3 lists it', (t) => {
  for (const from of LEAD_STATUSES) {
    for (const to of LEAD_STATUSES) {
      for (const role of allRoles) {
        const check = checkStatusTransition(from, to, role)
        const label = `${from} → ${to} as ${role}`
        if (from === to) {
          t.deepEqual(check, { ok: true, noop: true }, label)
        } else if (allowedBySpec.has(`${from}>${to}`) && !(from === 'EXPIRED' && role === 'SALES')) {
          t.deepEqual(check, { ok: true, noop: false }, label)
        } else {
          t.false(check.ok, label)
          if (!check.ok) t.true(check.reason.startsWith(`Status cannot change from ${from} to ${to}`), label)
        }
      }
    }
  }
})

test('an ordinary refusal reads "Status cannot change from X to Y"', (t) => {
  t.deepEqual(checkStatusTransition('REGISTERED', 'CONVERTED', 'ADMIN'), { ok: false, reason: 'Status cannot change from REGISTERED to CONVERTED' })
  t.deepEqual(checkStatusTransition('QUALIFIED', 'ACTIVE', 'SYSTEM'), { ok: false, reason: 'Status cannot change from QUALIFIED to ACTIVE' })
})

test('only MANAGER, ADMIN and SYSTEM reactivate an EXPIRED lead; SALES gets a reason saying so', (t) => {
  t.deepEqual(checkStatusTransition('EXPIRED', 'ACTIVE', 'MANAGER'), { ok: true, noop: false })
  t.deepEqual(checkStatusTransition('EXPIRED', 'ACTIVE', 'ADMIN'), { ok: true, noop: false })
  t.deepEqual(checkStatusTransition('EXPIRED', 'ACTIVE', 'SYSTEM'), { ok: true, noop: false })
  const sales = checkStatusTransition('EXPIRED', 'ACTIVE', 'SALES')
  t.false(sales.ok)
  if (!sales.ok) t.regex(sales.reason, /^Status cannot change from EXPIRED to ACTIVE: .*MANAGER or ADMIN/)
})

test('DELETED is never reached through a status change, whatever the role; the reason points to DELETE', (t) => {
  for (const from of LEAD_STATUSES.filter((status) => status !== 'DELETED')) {
    for (const role of allRoles) {
      const check = checkStatusTransition(from, 'DELETED', role)
      t.false(check.ok)
      if (!check.ok) t.true(check.reason.includes('DELETE /api/leads'), `${from} as ${role}: ${check.reason}`)
    }
  }
})

test('terminal statuses never leave, but repeating them is a no-op', (t) => {
  const terminal: LeadStatus[] = ['CONVERTED', 'LOST', 'DELETED']
  t.deepEqual(LEAD_STATUSES.filter(isTerminalStatus), terminal)
  for (const from of terminal) {
    t.deepEqual(checkStatusTransition(from, from, 'SALES'), { ok: true, noop: true })
    const reopen = checkStatusTransition(from, 'ACTIVE', 'ADMIN')
    t.false(reopen.ok)
    if (!reopen.ok) t.is(reopen.reason, `Status cannot change from ${from} to ACTIVE: ${from} is a final status`)
  }
  t.false(isTerminalStatus('EXPIRED'), 'EXPIRED can be reactivated, so it is not terminal')
})

test('status change summary', (t) => {
  t.is(statusChangeSummary('REGISTERED', 'ACTIVE'), 'Status changed from REGISTERED to ACTIVE')
  t.is(statusChangeSummary('QUALIFIED', 'LOST'), 'Status changed from QUALIFIED to LOST')
})

test('meaningful contact and progress follow the §3 activity table', (t) => {
  const table: [ActivityType, boolean, boolean][] = [
    ['QUALIFIED_CALL', true, true], ['MEETING', true, true], ['DEMO', true, true], ['ROI_PRESENTATION', true, true], ['SAMPLE_SENT', true, true],
    ['EMAIL', true, false], ['CALL', true, false], ['ORDER', true, false],
    ['NOTE', false, false], ['FOLLOW_UP', false, false], ['SAMPLE_FEEDBACK', false, false], ['FIRST_CONTACT_DOCUMENTED', false, false],
  ]
  t.deepEqual(table.map(([type]) => type), [...USER_ACTIVITY_TYPES])
  for (const [type, meaningful, progress] of table) {
    t.is(isMeaningfulActivity(type), meaningful, type)
    t.is(countsAsProgress(type), progress, type)
  }
  for (const type of SYSTEM_ACTIVITY_TYPES) {
    t.false(isMeaningfulActivity(type), type)
    t.false(countsAsProgress(type), type)
  }
})

test('user-postable and system activity types are disjoint and together make up all types', (t) => {
  t.deepEqual([...SYSTEM_ACTIVITY_TYPES], [
    'CREATED', 'STATUS_CHANGE', 'ASSIGNED', 'FOLLOW_UP_T3', 'FOLLOW_UP_T7', 'REMINDER_SENT', 'DELETED', 'MERGED', 'UNMERGED',
    'GRACE_PERIOD_STARTED', 'PROTECTION_EXPIRED', 'CLOCK_STOP_REQUESTED', 'CLOCK_STOPPED', 'CLOCK_RESUMED', 'REGISTERED_AT_CHANGED',
    'CONSENT_REVOKED', 'ERASED', 'PSEUDONYMIZED',
  ])
  t.deepEqual([...ACTIVITY_TYPES], [...USER_ACTIVITY_TYPES, ...SYSTEM_ACTIVITY_TYPES])
  t.is(new Set<string>(ACTIVITY_TYPES).size, 30, 'no type is both user-postable and system-only')
  t.true(isUserActivityType('CALL'))
  t.false(isUserActivityType('STATUS_CHANGE'))
  t.false(isUserActivityType('call'))
  t.false(isUserActivityType(42))
})

test('a meaningful activity makes REGISTERED, REMINDER and GRACE_PERIOD leads ACTIVE and nothing else', (t) => {
  for (const status of LEAD_STATUSES) {
    const expected = ['REGISTERED', 'REMINDER', 'GRACE_PERIOD'].includes(status) ? 'ACTIVE' : null
    t.is(statusAfterActivity(status, 'CALL'), expected, status)
    t.is(statusAfterActivity(status, 'MEETING'), expected, status)
    t.is(statusAfterActivity(status, 'NOTE'), null, status)
    t.is(statusAfterActivity(status, 'FOLLOW_UP_T7'), null, status)
  }
})

test('every status an activity produces is an allowed transition for SYSTEM', (t) => {
  for (const status of LEAD_STATUSES) {
    for (const type of ACTIVITY_TYPES) {
      const next = statusAfterActivity(status, type)
      if (next !== null) t.true(checkStatusTransition(status, next, 'SYSTEM').ok, `${status} + ${type}`)
    }
  }
})

test('MESSE and TELEFON require a first contact and start in REGISTRIERUNG; the rest in VORMERKUNG', (t) => {
  for (const source of LEAD_SOURCES) {
    const firstContact = source === 'MESSE' || source === 'TELEFON'
    t.is(requiresFirstContact(source), firstContact, source)
    t.is(initialStage(source), firstContact ? 'REGISTRIERUNG' : 'VORMERKUNG', source)
  }
})

test('stages move forward by exactly one; staying is a no-op', (t) => {
  t.deepEqual([...LEAD_STAGES], ['VORMERKUNG', 'REGISTRIERUNG', 'QUALIFIZIERT'])
  t.deepEqual(checkStageChange('VORMERKUNG', 'REGISTRIERUNG'), { ok: true, noop: false })
  t.deepEqual(checkStageChange('REGISTRIERUNG', 'QUALIFIZIERT'), { ok: true, noop: false })
  for (const stage of LEAD_STAGES) t.deepEqual(checkStageChange(stage, stage), { ok: true, noop: true })
  const skip = checkStageChange('VORMERKUNG', 'QUALIFIZIERT')
  t.false(skip.ok)
  if (!skip.ok) t.is(skip.reason, 'Stage cannot change from VORMERKUNG to QUALIFIZIERT: stages move forward one step at a time')
  for (const [from, to] of [['REGISTRIERUNG', 'VORMERKUNG'], ['QUALIFIZIERT', 'REGISTRIERUNG'], ['QUALIFIZIERT', 'VORMERKUNG']] as const) {
    const back = checkStageChange(from, to)
    t.false(back.ok)
    if (!back.ok) t.is(back.reason, `Stage cannot change from ${from} to ${to}: stages never move backwards`)
  }
})
