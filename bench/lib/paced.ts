// An evenly paced, open-loop load at a fixed rate: request i is sent at start + i/rate whether or
// not earlier ones have answered (keep-alive sockets, opened as needed). autocannon's overallRate
// is a per-connection budget per second — each connection sends its share back to back at the
// start of every second, then idles — so its percentiles show a burst, not a steady rate. Both are
// reported; this one is the figure the latency targets are judged by.
import http from 'node:http'
import type { RequestParams } from 'autocannon'
import { percentile, type LoadResult, type LoadSpec } from './load.ts'

export interface PaceOptions {
  rate: number
  total: number
  /**
   * Keeps an overloaded target from piling up minutes of backlog: a call that is due while this
   * many are outstanding is not made and counts as an error (the run is then overloaded).
   */
  maxInFlight?: number
}

/** Calls `call` at start + i/rate for i < total; each call's time is from its start to its settling. */
export async function pace(options: PaceOptions, call: () => Promise<'ok' | 'non2xx'>): Promise<LoadResult> {
  const maxInFlight = options.maxInFlight ?? 64
  const { rate, total } = options
  const latencies: number[] = []
  let inFlight = 0
  let non2xx = 0
  let errors = 0
  let dropped = 0
  let done = 0
  const started = performance.now()
  await new Promise<void>((resolve) => {
    const finish = () => {
      inFlight--
      if (++done === total) resolve()
    }
    const start = () => {
      const calledAt = performance.now()
      call().then(
        (outcome) => {
          if (outcome === 'ok') latencies.push(performance.now() - calledAt)
          else non2xx++
          finish()
        },
        () => {
          errors++
          finish()
        },
      )
    }
    let sent = 0
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1)
      while (sent < due) {
        sent++
        inFlight++
        if (inFlight > maxInFlight) {
          dropped++
          finish()
        } else start()
      }
      if (sent < total) setTimeout(tick, 1)
    }
    tick()
  })
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    throughput: latencies.length / seconds,
    requests: total,
    ok: latencies.length,
    errors: errors + dropped,
    dropped,
    non2xx,
    seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    samples: latencies,
  }
}

/** Several paced windows of one target as one result: counts add up, percentiles over all samples. */
export function mergePaced(results: readonly LoadResult[]): LoadResult {
  const samples = results.flatMap((r) => r.samples ?? []).sort((a, b) => a - b)
  const seconds = results.reduce((sum, r) => sum + r.seconds, 0)
  const sum = (key: 'requests' | 'ok' | 'errors' | 'non2xx') => results.reduce((total, r) => total + r[key], 0)
  return {
    throughput: samples.length / seconds,
    requests: sum('requests'),
    ok: sum('ok'),
    errors: sum('errors'),
    dropped: results.reduce((total, r) => total + (r.dropped ?? 0), 0),
    non2xx: sum('non2xx'),
    seconds,
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    max: samples.at(-1) ?? Number.NaN,
    samples,
  }
}

/** HTTP requests of `spec`, paced (see `pace`); time = request sent → response complete. */
export async function runPaced(spec: LoadSpec & { rate: number; maxInFlight?: number }): Promise<LoadResult> {
  const url = new URL(spec.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const total = spec.amount ?? Math.round(spec.rate * (spec.duration ?? 10))
  const base: RequestParams = { method: spec.method ?? 'GET', path: url.pathname + url.search, headers: spec.headers ?? {}, body: spec.body }
  try {
    return await pace({ rate: spec.rate, total, maxInFlight: spec.maxInFlight }, () => new Promise((resolve, reject) => {
      const params = spec.setupRequest ? spec.setupRequest({ ...base }, {}) : base
      const request = http.request(
        { agent, host: url.hostname, port: url.port, method: params.method ?? base.method, path: params.path ?? base.path, headers: { ...params.headers, ...(params.body !== undefined && { 'content-length': Buffer.byteLength(params.body) }) } },
        (response) => {
          response.resume()
          response.on('end', () => {
            const status = response.statusCode ?? 0
            resolve(status >= 200 && status < 300 ? 'ok' : 'non2xx')
          })
        },
      )
      request.setTimeout(10_000, () => request.destroy(new Error('timeout')))
      request.on('error', reject)
      request.end(params.body)
    }))
  } finally {
    agent.destroy()
  }
}
