/** Polls until the predicate holds or the time is up; answers whether it held. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, ms: number, everyMs = 100): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await predicate()) return true
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return predicate()
}
