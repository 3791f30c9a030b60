import { pino, type Logger } from 'pino'
import type { Config } from './config.ts'

export type { Logger }

/** JSON logs to stdout; credentials never reach a log line. */
export function createLogger(config: Pick<Config, 'logLevel'>, name: string): Logger {
  return pino({
    name,
    level: config.logLevel,
    base: { process: name },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', '*.password'],
      censor: '[redacted]',
    },
  })
}
