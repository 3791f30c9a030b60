// A statement sent the way the service sends it (lib/db.ts): named by its text, so PostgreSQL
// parses and plans it once per connection. The baselines use it, so they pay what the service pays.
import type pg from 'pg'
import { preparedStatementName } from '../../lib/db.ts'

export function executePrepared<R extends pg.QueryResultRow = pg.QueryResultRow>(client: pg.ClientBase, text: string, values: unknown[], fixedResult = false): Promise<pg.QueryResult<R>> {
  return client.query<R>({ name: preparedStatementName(text, values.length, fixedResult), text, values })
}
