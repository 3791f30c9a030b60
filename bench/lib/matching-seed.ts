// Leads for the matching benchmark, inserted as the owner with generate_series, with the match
// keys filled in as models/matching.ts computes them (the words here are plain ASCII, so folding
// is lower-casing). The key distribution is what makes a candidate search expensive or not, so it
// imitates a real tenant: half the names share one of ~180 common words (family names, inn names,
// "Bella Vista"), the rest are rarer made-up words; a second word now and then; about 8,000 postal
// codes with their towns; 55 % company domains of their own, 5 % of twenty chains, 40 % free mail;
// every lead its own phone number. Loaded like seed.ts's leads (bulkLoadLeads).
import { bulkLoadLeads } from './seed.ts'

export const COMMON_WORDS = [
  'mueller', 'schmidt', 'schneider', 'fischer', 'weber', 'meyer', 'wagner', 'becker', 'schulz', 'hoffmann', 'schaefer', 'koch',
  'bauer', 'richter', 'klein', 'wolf', 'schroeder', 'neumann', 'schwarz', 'zimmermann', 'braun', 'krueger', 'hofmann', 'hartmann',
  'lange', 'schmitt', 'werner', 'schmitz', 'krause', 'meier', 'lehmann', 'schmid', 'schulze', 'maier', 'koehler', 'herrmann',
  'koenig', 'walter', 'mayer', 'huber', 'kaiser', 'fuchs', 'peters', 'lang', 'scholz', 'moeller', 'weiss', 'jung', 'hahn', 'vogel',
  'friedrich', 'keller', 'guenther', 'frank', 'berger', 'winkler', 'roth', 'beck', 'lorenz', 'baumann', 'franke', 'albrecht',
  'adler', 'loewen', 'hirsch', 'baeren', 'schwanen', 'ochsen', 'roessle', 'lamm', 'sonne', 'krone', 'stern', 'linde', 'rose', 'post',
  'traube', 'engel', 'hecht', 'kreuz', 'mohren', 'rappen', 'schiff', 'falken', 'storchen', 'seeblick', 'bergblick', 'waldeck',
  'lindenhof', 'tannenhof', 'rheinblick', 'schlossblick', 'eichhorn', 'vista', 'piazza', 'mario', 'gabbiano', 'mahal',
  'saigon', 'zafferano', 'olivo', 'sansibar', 'genusswerk', 'kochwerk', 'tafelspitz', 'brotzeit', 'feinschmecker', 'gaumenfreude',
  'kraeutergarten', 'schmankerl', 'heimatkueche', 'hafenkueche', 'elbterrasse', 'isartal', 'spreeblick', 'rebstock', 'weinberg',
]
const GENERIC = ['Restaurant', 'Hotel', 'Gasthaus', 'Café', 'Bistro', 'Catering', 'Kantine', 'Pension', 'Bäckerei', 'Metzgerei', 'Feinkost']
const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'be', 'so', 'di', 'fa', 'gu', 'he', 'ji', 'ko', 'la', 'mu', 'no', 'pe', 'ri', 'sa', 'te', 'vi', 'wo', 'ze', 'bra', 'kel', 'dor', 'fin', 'gar', 'hol']
export const SYLLABLE_COUNT = SYLLABLES.length

/** Leads number `from`..`to` (inclusive) of tenant `default`, DE, owners cycling over 50 sales users. */
export async function seedMatchingLeads(ownerUrl: string, from: number, to: number): Promise<{ seconds: number }> {
  return bulkLoadLeads(ownerUrl, from, to, async (client) => {
    await client.query(
      `insert into leads (tenant_id, territory, country_code, company_name, contact_name, email, phone, street, postal_code, city,
                          source, status, stage, owner_user_id, created_by, created_at, updated_at, registered_at,
                          email_normalized, name_normalized, phone_e164, normalization_version,
                          match_name, match_email_domain, match_postal_code, match_city)
       select 'default', 'DE', 'DE',
              g.generic || ' ' || initcap(n.word1) || coalesce(' ' || initcap(n.word2), ''),
              'Kontakt ' || i,
              e.email, '+49 30 ' || (1000000 + i), 'Hauptstrasse ' || (1 + i % 180), p.postal, p.city,
              'WEB_FORMULAR', 'REGISTERED', 'VORMERKUNG', 'sales-' || (i % 50), 'bench-seed', ts, ts, ts,
              e.email, lower(g.generic || ' ' || n.word1 || coalesce(' ' || n.word2, '')), '+49301' || (1000000 + i), 2,
              -- companyNameKey: the distinctive words, folded (ue/oe/ae → u/o/a), sorted.
              (select string_agg(replace(replace(replace(w, 'ue', 'u'), 'oe', 'o'), 'ae', 'a'), ' ' order by replace(replace(replace(w, 'ue', 'u'), 'oe', 'o'), 'ae', 'a'))
                 from unnest(array[n.word1, n.word2]) as w),
              e.domain, p.postal, p.city_key
         from generate_series($1::int, $2::int) as i,
         lateral (select now() - make_interval(secs => i * 30) as ts, hashint4(i) as h, hashint4(i + 7919) as h2) as t,
         lateral (select ($3::text[])[1 + abs(h % array_length($3::text[], 1))] as generic) as g,
         lateral (select
                    case when abs(h2 % 2) = 0 then ($4::text[])[1 + abs((h2 / 2) % array_length($4::text[], 1))]
                         else ($5::text[])[1 + abs(h2 % 30)] || ($5::text[])[1 + abs((h2 / 30) % 30)] || ($5::text[])[1 + abs((h2 / 900) % 30)] end as word1,
                    case when abs(h % 5) < 2 then ($5::text[])[1 + abs((h / 7) % 30)] || ($5::text[])[1 + abs((h / 210) % 30)] || 'er' end as word2) as n,
         lateral (select lpad((1000 + abs(hashint4(i * 3)) % 8000 * 12)::text, 5, '0') as postal) as p0,
         lateral (select p0.postal, 'Stadt ' || left(p0.postal, 3) as city, 'stadt' || left(p0.postal, 3) as city_key) as p,
         lateral (select
                    case when abs(h % 20) < 11 then 'info@firma' || i || '.de'
                         when abs(h % 20) = 11 then 'filiale' || i || '@kette' || abs(h2 % 20) || '.de'
                         else 'kontakt' || i || '@gmx.de' end as email,
                    case when abs(h % 20) < 11 then 'firma' || i || '.de'
                         when abs(h % 20) = 11 then 'kette' || abs(h2 % 20) || '.de' end as domain) as e`,
      [from, to, GENERIC, COMMON_WORDS, SYLLABLES],
    )
  })
}

/**
 * Create bodies that look like the seeded leads — a common word or a made-up one, a postal code and
 * town that exist, now and then the phone of an existing lead — so the probes meet realistic key
 * frequencies. Deterministic for `seed`.
 */
export function matchBodies(count: number, seed: number, existing: number): string[] {
  let state = seed >>> 0
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 4294967296
  }
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!
  const bodies: string[] = []
  for (let n = 0; n < count; n++) {
    const word = next() < 0.5 ? pick(COMMON_WORDS) : pick(SYLLABLES) + pick(SYLLABLES) + pick(SYLLABLES)
    const postal = String(1000 + Math.floor(next() * 8000) * 12).padStart(5, '0')
    const lead = 1 + Math.floor(next() * existing)
    const body: Record<string, unknown> = {
      companyName: `${pick(GENERIC)} ${word[0]!.toUpperCase()}${word.slice(1)}`,
      street: `Hauptstraße ${1 + Math.floor(next() * 180)}`,
      postalCode: postal,
      city: `Stadt ${postal.slice(0, 3)}`,
      countryCode: 'DE',
    }
    if (next() < 0.3) body.phone = `030 ${1000000 + lead}`
    if (next() < 0.5) body.email = next() < 0.5 ? `einkauf@firma${lead}.de` : `jemand${n}@gmx.de`
    bodies.push(JSON.stringify(body))
  }
  return bodies
}
