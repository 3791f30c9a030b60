// An evenly paced, open-loop load at a fixed rate: request i is sent at start + i/rate whether or
// not earlier ones have answered (keep-alive sockets, opened as needed). autocannon's overallRate
// is a per-connection budget per second — each connection sends its share back to back at the
// start of every second, then idles — so its percentiles show a burst, not a steady rate. Both are
// reported; this one is the figure the latency targets are judged by.
import http from 'node:http'
import type { RequestParams } from 'autocannon'
import { percentile, type LoadResult, type LoadSpec } from './load.ts'

/**
 * `maxInFlight` keeps an overloaded server from piling up minutes of backlog: a request that is due
 * while that many are outstanding is not sent and counts as an error (the run is then overloaded).
 */
export async function runPaced(spec: LoadSpec & { rate: number; maxInFlight?: number }): Promise<LoadResult> {
  const maxInFlight = spec.maxInFlight ?? 64
  let inFlight = 0
  const url = new URL(spec.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const total = spec.amount ?? Math.round(spec.rate * (spec.duration ?? 10))
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  let dropped = 0
  let done = 0
  const base: RequestParams = { method: spec.method ?? 'GET', path: url.pathname + url.search, headers: spec.headers ?? {}, body: spec.body }
  const started = performance.now()
  await new Promise<void>((resolve) => {
    const finish = () => {
      inFlight--
      if (++done === total) resolve()
    }
    const send = () => {
      const params = spec.setupRequest ? spec.setupRequest({ ...base }, {}) : base
      const sentAt = performance.now()
      const request = http.request(
        { agent, host: url.hostname, port: url.port, method: params.method ?? base.method, path: params.path ?? base.path, headers: { ...params.headers, ...(params.body !== undefined && { 'content-length': Buffer.byteLength(params.body) }) } },
        (response) => {
          response.resume()
          response.on('end', () => {
            const status = response.statusCode ?? 0
            if (status >= 200 && status < 300) latencies.push(performance.now() - sentAt)
            else non2xx++
            finish()
          })
        },
      )
      request.setTimeout(10_000, () => request.destroy(new Error('timeout')))
      request.on('error', () => {
        errors++
        finish()
      })
      request.end(params.body)
    }
    let sent = 0
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * spec.rate) / 1000) + 1)
      while (sent < due) {
        sent++
        inFlight++
        if (inFlight > maxInFlight) {
          dropped++
          finish()
        } else send()
      }
      if (sent < total) setTimeout(tick, 1)
    }
    tick()
  })
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
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
  }
}
