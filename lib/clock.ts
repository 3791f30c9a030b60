// Time is injected everywhere the domain asks "what time is it", so tests can move it.

export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }

/** A clock that stands still until told to move; for tests. */
export class ManualClock implements Clock {
  #at: number
  constructor(at: Date | string) {
    this.#at = new Date(at).getTime()
  }
  now(): Date {
    return new Date(this.#at)
  }
  set(at: Date | string): void {
    this.#at = new Date(at).getTime()
  }
  advance(ms: number): void {
    this.#at += ms
  }
}
