// The result table (stdout) and bench/results/latest.json.
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Figure } from './types.ts'

export interface Report {
  date: string
  mode: 'smoke' | 'full'
  machine: { cpus: number; model: string; memoryGb: number; node: string; postgres: string; platform: string }
  seconds: number
  figures: Figure[]
  errors: { scenario: string; message: string }[]
}

function format(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—'
  if (unit === 'ms') return `${value.toFixed(2)} ms`
  if (unit === 'req/s') return `${value.toFixed(0)} req/s`
  if (unit === '%' || unit === 'tx/s' || unit === '') return `${value.toFixed(unit === '' ? 1 : 2)} ${unit}`.trim()
  return `${value} ${unit}`.trim()
}

function ratio(figure: Figure): string {
  if (figure.ratio === null || figure.ratio === undefined || Number.isNaN(figure.ratio)) return '—'
  if (!Number.isFinite(figure.ratio)) return 'overloaded'
  return ['req/s', 'jobs/s', 'leads/s'].includes(figure.unit) ? `${(figure.ratio * 100).toFixed(0)} %` : `${figure.ratio.toFixed(2)}×`
}

export function renderTable(report: Report): string {
  const header = ['Scenario', 'Figure', 'Value', 'Baseline', 'Ratio', 'Target', 'Result', 'Method']
  const rows = report.figures.map((f, i) => [
    f.scenario, f.figure, f.verdict === 'NOT MEASURED' ? 'not measured in this run' : format(f.value, f.unit), f.verdict === 'NOT MEASURED' ? '' : format(f.baseline, f.unit),
    f.verdict === 'NOT MEASURED' ? '' : ratio(f), f.target ?? '', f.verdict === 'INFO' ? '' : f.verdict, `[${i + 1}]`,
  ])
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (cells: string[]) => `| ${cells.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)]
  out.push('', 'Methods:')
  report.figures.forEach((f, i) => out.push(`[${i + 1}] ${f.method}`))
  for (const error of report.errors) out.push(`FAILED ${error.scenario}: ${error.message}`)
  out.push('', `${report.mode} run, ${report.date}, ${report.machine.cpus} cores (${report.machine.model}), Node ${report.machine.node}, ${report.machine.postgres}, ${report.seconds.toFixed(0)} s`)
  return out.join('\n')
}

export function machine(postgres: string): Report['machine'] {
  return { cpus: os.availableParallelism(), model: os.cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, postgres, platform: `${os.platform()} ${os.release()}` }
}

export async function writeReport(report: Report, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, 'latest.json')
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  return file
}
