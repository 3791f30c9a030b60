// `npm run migrate` / Procfile `release`: bring DATABASE_URL (as its owner) to the code's schema.
import { loadConfigOrExit } from '../lib/config.ts'
import { migrateDatabase } from '../lib/migrate.ts'

const config = loadConfigOrExit()
await migrateDatabase({
  databaseUrl: config.databaseUrl,
  appRole: config.appDbUser,
  includeDevRange: config.nodeEnv !== 'production',
  log: (line) => console.log(line),
})
console.log('database is up to date')
