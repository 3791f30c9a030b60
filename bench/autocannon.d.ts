// The part of autocannon's API the harness uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface RequestParams {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
  }

  export interface Request extends RequestParams {
    setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams
  }

  export interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    pipelining?: number
    duration?: number
    amount?: number
    overallRate?: number
    timeout?: number
    requests?: Request[]
  }

  export interface Histogram {
    average: number
    p50: number
    p99: number
    total: number
  }

  export interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
    requests: Histogram
    latency: Histogram
  }

  export interface Instance extends EventEmitter {
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this
    on(event: string, listener: (...args: any[]) => void): this
  }

  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance
  export default autocannon
}
