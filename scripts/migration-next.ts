// `npm run migration:next [-- --dev]`: prints the next free migration number (V0007__, or V10003__
// in the development/test-data range that production skips).
import { DEV_RANGE_START, listMigrationFiles } from '../lib/migrate.ts'

const dev = process.argv.includes('--dev')
const numbers = (await listMigrationFiles()).map((f) => f.number).filter((n) => (dev ? n >= DEV_RANGE_START : n < DEV_RANGE_START))
const next = numbers.length === 0 ? (dev ? DEV_RANGE_START + 1 : 1) : Math.max(...numbers) + 1
console.log(`V${String(next).padStart(4, '0')}__`)
