// The dashboard listener's memory of idempotency keys (§7): bounded in entries and in time, so a
// web process that runs for months neither grows without limit nor forgets a key within a day.

export interface DedupeCacheOptions {
  maxEntries?: number
  ttlMs?: number
  now?: () => number
}

export class DedupeCache {
  readonly maxEntries: number
  readonly ttlMs: number
  readonly #now: () => number
  // A Map iterates in insertion order, so the first entry is always the oldest: expiry and
  // eviction both take from the front, O(1) per key.
  readonly #seenAt = new Map<string, number>()
  #hits = 0
  #lookups = 0

  constructor(options: DedupeCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 500_000
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000
    this.#now = options.now ?? Date.now
  }

  /** True when the key was seen within the TTL (a duplicate); otherwise remembers it and answers false. */
  seen(key: string): boolean {
    const now = this.#now()
    this.#expire(now)
    this.#lookups++
    if (this.#seenAt.has(key)) {
      this.#hits++
      return true
    }
    if (this.#seenAt.size >= this.maxEntries) this.#seenAt.delete(this.#seenAt.keys().next().value!)
    this.#seenAt.set(key, now)
    return false
  }

  get size(): number {
    this.#expire(this.#now())
    return this.#seenAt.size
  }

  /** Share of lookups that were duplicates, 0 before the first lookup. */
  get hitRate(): number {
    return this.#lookups === 0 ? 0 : this.#hits / this.#lookups
  }

  #expire(now: number): void {
    for (const [key, at] of this.#seenAt) {
      if (now - at < this.ttlMs) return
      this.#seenAt.delete(key)
    }
  }
}
