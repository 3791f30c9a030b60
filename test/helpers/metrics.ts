/** One sample out of Prometheus text, by metric name and exact label set; undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`)
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/)
    if (!match || match[1] !== name) continue
    const present = (match[2] ?? '').split(/,(?=[a-z_]+=")/).filter(Boolean)
    if (wanted.every((pair) => present.includes(pair)) && present.length === wanted.length) return Number(match[3])
  }
  return undefined
}
