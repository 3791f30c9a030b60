import type { Knex } from 'knex'

// match_candidates() (V0012) runs one statement of eight index probes. PL/pgSQL keeps its plan, but
// under plan_cache_mode = auto PostgreSQL compares the generic plan's estimate with that of the
// custom plans and kept planning the statement anew for every call: about 0.3 ms of a 0.35 ms call
// (measured: 500 calls in 310 ms, 24 ms with the generic plan). The generic plan is the one the
// probes were written for — each probe switched on or off by whether its parameter is null, each
// an index scan bounded by its LIMIT, whatever the values — so the function always uses it.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter function match_candidates(text, text, text, text, text, text, uuid) set plan_cache_mode = force_generic_plan')
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter function match_candidates(text, text, text, text, text, text, uuid) reset plan_cache_mode')
}
