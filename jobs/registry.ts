// Every worker, schedule and service of the worker process, in one list each.
import type { JobDefinition, ScheduleDefinition, ServiceDefinition } from './definitions.ts'
import { backfillJob } from './backfill.ts'
import { importJob } from './imports.ts'
import { emailSendJob } from './email.ts'
import { followUpJobs, followUpSweepSchedule } from './follow-ups.ts'
import { protectionJobs, protectionSweepSchedule } from './protection.ts'
import { idempotencyPurgeJob, idempotencyPurgeSchedule } from './idempotency-purge.ts'
import { pseudonymizeJob, pseudonymizeSchedule } from './privacy.ts'
import { EVENT_JOBS, EVENT_SCHEDULES, EVENT_SERVICES } from './events.ts'
import { duplicateDetectedJob } from './duplicate-detected.ts'

export const JOBS: JobDefinition<any>[] = [idempotencyPurgeJob, ...followUpJobs, ...protectionJobs, emailSendJob, ...EVENT_JOBS, backfillJob, duplicateDetectedJob, importJob, pseudonymizeJob]
export const SCHEDULES: ScheduleDefinition[] = [idempotencyPurgeSchedule, followUpSweepSchedule, protectionSweepSchedule, pseudonymizeSchedule, ...EVENT_SCHEDULES]
export const SERVICES: ServiceDefinition[] = [...EVENT_SERVICES]
