// `npm run backfill [-- --tenant <id>] [--batch-size <n>]`: the §5 normalization backfill from a
// terminal, against DATABASE_URL (as the application role, in SYSTEM contexts; RLS stays on).
// Without --tenant it backfills every tenant that has stale leads, one after the other. For each it
// starts a backfill or resumes the running one, then works its batches in this process, so it needs
// no worker and continues at once after it was killed. The backfill's pg-boss job is queued as
// well: a worker that runs it meanwhile takes turns with this process under the backfill's row
// lock, and finishes it if this process is stopped. Shows a progress bar on a terminal, plain lines
// otherwise. Exit code 0 when all COMPLETED, 1 when one FAILED, 130 when interrupted.
import os from 'node:os'
import { parseArgs } from 'node:util'
import { SingleBar } from 'cli-progress'
import { loadConfigOrExit } from '../lib/config.ts'
import { createLogger } from '../lib/logger.ts'
import { createKnex, inTransaction, systemContext } from '../lib/db.ts'
import { ALL_TENANTS } from '../lib/tenancy.ts'
import { systemClock } from '../lib/clock.ts'
import { releaseResources, startBoss } from '../lib/boss.ts'
import { runBackfill } from '../jobs/backfill.ts'
import { backfillProgress, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, startNormalizationBackfill, tenantsWithStaleLeads, type Backfill } from '../models/backfills.ts'
import { normalizationVersion } from '../models/normalization.ts'
import type { Deps } from '../lib/deps.ts'

/** Leads per second over the recent batches (the ETA follows the current speed, not the average). */
export class RateMeter {
  readonly #samples: { at: number; processed: number }[] = []
  readonly #windowMs: number
  constructor(windowMs = 10_000) {
    this.#windowMs = windowMs
  }
  add(at: number, processed: number): void {
    this.#samples.push({ at, processed })
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.#windowMs) this.#samples.shift()
  }
  perSecond(): number | null {
    const first = this.#samples[0]
    const last = this.#samples.at(-1)
    if (!first || !last || last.at <= first.at) return null
    return ((last.processed - first.processed) * 1000) / (last.at - first.at)
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

const count = (n: number) => n.toLocaleString('en-US')

/** One plain progress line (logs, CI, anything that is not a terminal). */
export function progressLine(backfill: Backfill, leadsPerSecond: number | null): string {
  const progress = backfillProgress(backfill)
  const percent = progress === null ? '?' : `${(progress * 100).toFixed(1)}%`
  return `backfill ${backfill.id} ${backfill.status} ${percent} ${progressNumbers(backfill, leadsPerSecond)}`
}

function progressNumbers(backfill: Backfill, leadsPerSecond: number | null): string {
  const remaining = backfill.total === null ? null : Math.max(0, backfill.total - backfill.processed)
  const eta = remaining !== null && leadsPerSecond ? formatDuration(remaining / leadsPerSecond) : '?'
  const rate = leadsPerSecond === null ? '?' : count(Math.round(leadsPerSecond))
  return `${count(backfill.processed)}/${backfill.total === null ? '?' : count(backfill.total)} leads · ${rate} leads/s · ETA ${eta} · duplicates ${count(backfill.duplicatesFound)} · failed ${count(backfill.failed)}`
}

/**
 * The terminal's progress bar (cli-progress: redraws in place, hides the cursor, fits the width).
 * The numbers after the bar are ours: the rate and ETA follow the recent batches (RateMeter).
 */
function progressBar(stream: NodeJS.WriteStream): { update(backfill: Backfill, leadsPerSecond: number | null, note: string): void; stop(): void } {
  const bar = new SingleBar({
    stream,
    format: '[{bar}] {percentage}% {numbers}{note}',
    barCompleteChar: '█',
    barIncompleteChar: '░',
    barsize: Math.max(10, Math.min(40, (stream.columns ?? 80) - 90)),
    hideCursor: true,
    fps: 5,
  })
  let started = false
  return {
    update(backfill, leadsPerSecond, note) {
      const payload = { numbers: progressNumbers(backfill, leadsPerSecond), note }
      // Before the first batch the total is unknown: an empty bar at 0 %.
      const total = Math.max(backfill.total ?? 0, backfill.processed, 1)
      if (!started) {
        started = true
        bar.start(total, backfill.processed, payload)
      } else {
        bar.setTotal(total)
        bar.update(backfill.processed, payload)
      }
    },
    stop: () => bar.stop(),
  }
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run backfill [-- --tenant <id>] [--batch-size <${DEFAULT_BATCH_SIZE}>]\n`)
  process.exit(64) // EX_USAGE
}

type Outcome = 'COMPLETED' | 'FAILED' | 'INTERRUPTED'

/** Starts or resumes the tenant's backfill and works it to the end, showing its progress. */
async function backfillTenant(deps: Deps, tenantId: string, batchSize: number | undefined, interrupt: AbortSignal): Promise<Outcome> {
  const out = process.stdout
  const tty = out.isTTY === true
  const createdBy = `cli:${os.userInfo().username}`.slice(0, 255)
  const { backfill, created } = await inTransaction(deps.knex, systemContext(tenantId), (tx) => startNormalizationBackfill(deps, tx, { createdBy, batchSize }))
  out.write(created
    ? `started backfill ${backfill.id} of tenant ${tenantId} (normalization version ${backfill.targetVersion}, batches of ${backfill.batchSize})\n`
    : `resuming backfill ${backfill.id} of tenant ${tenantId} at ${count(backfill.processed)}/${backfill.total === null ? '?' : count(backfill.total)} leads\n`)

  const started = Date.now()
  const meter = new RateMeter()
  meter.add(started, backfill.processed)
  let lastLine = 0
  const bar = tty ? progressBar(out) : undefined
  const show = (current: Backfill, final = false) => {
    const now = Date.now()
    meter.add(now, current.processed)
    if (bar) {
      // Nothing else may write while the bar is drawn: the interrupt shows in the bar's own line.
      bar.update(current, meter.perSecond(), interrupt.aborted ? ' · stopping after the current batch …' : '')
      if (final) bar.stop()
    } else if (final || now - lastLine >= 5000) {
      lastLine = now
      out.write(`${progressLine(current, meter.perSecond())}\n`)
    }
  }
  // On a terminal the bar says it at its next redraw; elsewhere a line says it at once.
  let last: Backfill | undefined
  const noticeInterrupt = () => (bar ? show(last ?? backfill) : out.write('stopping after the current batch …\n'))
  interrupt.addEventListener('abort', noticeInterrupt, { once: true })
  const run = await runBackfill(deps, { backfillId: backfill.id, tenantId }, { signal: interrupt, onBatch: (current) => show((last = current)) })
  interrupt.removeEventListener('abort', noticeInterrupt)
  last = run.backfill ?? last ?? backfill
  show(last, true)
  if (!run.finished) {
    out.write(`interrupted: backfill ${backfill.id} stays RUNNING; run npm run backfill again to resume (a worker continues it too)\n`)
    return 'INTERRUPTED'
  }
  const seconds = (Date.now() - started) / 1000
  out.write(`${last.status}: ${count(run.processed)} leads in ${formatDuration(seconds)} (${count(Math.round(run.processed / Math.max(seconds, 0.001)))} leads/s); duplicates ${count(last.duplicatesFound)}, failed ${count(last.failed)}${last.lastError ? `; last error: ${last.lastError}` : ''}\n`)
  return last.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED'
}

async function main(): Promise<void> {
  let args
  try {
    args = parseArgs({ options: { tenant: { type: 'string' }, 'batch-size': { type: 'string' } } }).values
  } catch (error) {
    usage((error as Error).message)
  }
  const batchSize = args['batch-size'] === undefined ? undefined : Number(args['batch-size'])
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= MAX_BATCH_SIZE)) usage(`--batch-size must be an integer from 1 to ${MAX_BATCH_SIZE}`)
  if (args.tenant !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(args.tenant)) usage('--tenant is not a tenant id')

  // It works batches as SYSTEM and lists tenants across all of them: the worker role's connection.
  const config = loadConfigOrExit(process.env, { worker: true })
  // Problems are printed here; the JSON log only gets warnings (pg-boss) to keep the terminal readable.
  const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, 'backfill')
  const knex = createKnex(config.workerDatabaseUrl!, { poolMax: 2, applicationName: 'freshplan-backfill' })
  const boss = await startBoss({ connectionString: config.workerDatabaseUrl!, logger, role: 'web', poolMax: 2 })
  const deps: Deps = { config, knex, boss, logger, clock: systemClock }
  const tty = process.stdout.isTTY === true

  const interrupt = new AbortController()
  const stop = (signal: string) => {
    if (interrupt.signal.aborted) process.exit(130) // a second Ctrl-C: do not wait for the batch
    interrupt.abort(signal)
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))

  let exitCode = 0
  try {
    const options = { stripPlusTag: config.emailStripPlusTag }
    const tenants = args.tenant !== undefined ? [args.tenant] : await inTransaction(knex, systemContext(ALL_TENANTS), (tx) => tenantsWithStaleLeads(tx, options))
    if (tenants.length === 0) process.stdout.write(`nothing to backfill: every lead is at normalization version ${normalizationVersion(options)}\n`)
    for (const tenantId of tenants) {
      const outcome = await backfillTenant(deps, tenantId, batchSize, interrupt.signal)
      if (outcome === 'INTERRUPTED') {
        exitCode = 130
        break
      }
      if (outcome === 'FAILED') exitCode = 1
    }
  } catch (error) {
    process.stderr.write(`${tty ? '\n' : ''}backfill failed: ${(error as Error).message}\n`)
    exitCode = 1
  } finally {
    await releaseResources({ config: { shutdownTimeoutMs: 5000 }, knex, boss })
  }
  process.exit(exitCode)
}

if (import.meta.main) await main()
