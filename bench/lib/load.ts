// The load generator: autocannon in the harness process (the service under test runs in its own
// process), with every response time recorded so percentiles are exact (autocannon's own summary
// has no p95).
import autocannon from 'autocannon'
import type { Request, Result } from 'autocannon'

export interface LoadSpec {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: string
  /** Per-request changes (unique keys, e-mails); called for every request. */
  setupRequest?: Request['setupRequest']
  connections: number
  /** Seconds; or `amount` requests, whichever the mode uses. */
  duration?: number
  amount?: number
  /** autocannon overallRate: requests per second across all connections. */
  rate?: number
}

export interface LoadResult {
  /** Completed 2xx responses per second over the run. */
  throughput: number
  requests: number
  ok: number
  errors: number
  /** Paced runs only: requests not sent because too many were outstanding (overload). */
  dropped?: number
  non2xx: number
  seconds: number
  p50: number
  p95: number
  p99: number
  max: number
  /** Every response time, sorted (paced runs; for merging interleaved windows). */
  samples?: number[]
}

/** The numbers of a run for the JSON report (without the raw samples). */
export function loadSummary(r: LoadResult): Pick<LoadResult, 'requests' | 'ok' | 'seconds' | 'throughput' | 'p50' | 'p95' | 'p99' | 'max'> {
  return { requests: r.requests, ok: r.ok, seconds: r.seconds, throughput: r.throughput, p50: r.p50, p95: r.p95, p99: r.p99, max: r.max }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = []
  let non2xx = 0
  const request: Request = { method: spec.method ?? 'GET', headers: spec.headers, body: spec.body }
  if (spec.setupRequest) request.setupRequest = spec.setupRequest
  const started = performance.now()
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        pipelining: 1,
        timeout: 10,
        ...(spec.duration !== undefined ? { duration: spec.duration } : { amount: spec.amount ?? 100 }),
        ...(spec.rate !== undefined && { overallRate: spec.rate }),
        requests: [request],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    )
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
      else non2xx++
    })
  })
  latencies.sort((a, b) => a - b)
  // Wall-clock of the run: autocannon's own duration is coarse for short, `amount`-bounded runs.
  const seconds = (performance.now() - started) / 1000
  return {
    throughput: latencies.length / seconds,
    requests: latencies.length + non2xx + result.errors,
    ok: latencies.length,
    errors: result.errors + result.timeouts,
    non2xx,
    seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
  }
}

/** A load run must have answered every request with 2xx, else its figures mean nothing. */
export function assertClean(label: string, result: LoadResult): void {
  if (result.errors > 0 || result.non2xx > 0 || result.ok === 0) {
    throw new Error(`${label}: ${result.ok} ok, ${result.non2xx} non-2xx, ${result.errors} errors/timeouts`)
  }
}

/** For paced runs: requests dropped for overload are a finding (reported), failed ones are not. */
export function assertAnswered(label: string, result: LoadResult): void {
  if (result.non2xx > 0 || result.errors - (result.dropped ?? 0) > 0) {
    throw new Error(`${label}: ${result.ok} ok, ${result.non2xx} non-2xx, ${result.errors - (result.dropped ?? 0)} errors/timeouts`)
  }
}
