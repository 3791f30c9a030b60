// The event metrics of DOMAIN.md §8, names exact (counters without `_total`). Stand-in until the
// board branch's server/metrics.ts registers them; then this file re-exports from there.
import { Counter, Gauge, Histogram, register, type Registry } from 'prom-client'

export interface EventMetrics {
  /** Per event the publisher sent; result success | truncated | failure. */
  published: Counter<'event_type' | 'module' | 'result'>
  /** Per event the dashboard listener received; result success | duplicate | denied | failure. */
  consumed: Counter<'event_type' | 'module' | 'result'>
  dedupeCacheEntries: Gauge
  dedupeCacheHitRate: Gauge
  /** Seconds from the event's time to the listener consuming it. */
  latency: Histogram
}

const byRegistry = new WeakMap<Registry, EventMetrics>()

/** The event metrics on a registry (prom-client's default one unless told), registered once. */
export function eventMetrics(registry: Registry = register): EventMetrics {
  let metrics = byRegistry.get(registry)
  if (!metrics) {
    const registers = [registry]
    metrics = {
      published: new Counter({ name: 'freshplan_events_published', help: 'Lead events published to LISTEN/NOTIFY', labelNames: ['event_type', 'module', 'result'], registers }),
      consumed: new Counter({ name: 'freshplan_events_consumed', help: 'Lead events received by the dashboard listener', labelNames: ['event_type', 'module', 'result'], registers }),
      dedupeCacheEntries: new Gauge({ name: 'freshplan_dedupe_cache_entries', help: 'Idempotency keys in the dashboard listener dedupe cache', registers }),
      dedupeCacheHitRate: new Gauge({ name: 'freshplan_dedupe_cache_hit_rate', help: 'Share of dedupe cache lookups that found a duplicate', registers }),
      latency: new Histogram({
        name: 'freshplan_event_latency',
        help: 'Seconds from event time to consumption by the dashboard listener',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    }
    byRegistry.set(registry, metrics)
  }
  return metrics
}
