// The layering rule of docs/architecture.md, checked by `npm test` (scripts/test.ts):
// server/ and jobs/ → models/ → lib/; server/ and jobs/ never import each other; no cycles,
// type-only imports included.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'A cycle ties its modules into one; type-only cycles count too.', from: {}, to: { circular: true } },
    { name: 'lib-is-the-bottom', severity: 'error', comment: 'lib/ is plumbing every layer uses; it imports nothing of ours above it.', from: { path: '^lib/' }, to: { path: '^(models|server|jobs|scripts|migrations|bench|test)/' } },
    { name: 'models-import-only-lib', severity: 'error', comment: 'The domain knows nothing of HTTP or pg-boss handlers.', from: { path: '^models/' }, to: { path: '^(server|jobs|scripts|migrations|bench|test)/' } },
    { name: 'server-not-jobs', severity: 'error', comment: 'The HTTP edge and the job handlers share what they need through models/ and lib/.', from: { path: '^server/' }, to: { path: '^(jobs|scripts|bench|test)/' } },
    { name: 'jobs-not-server', severity: 'error', comment: 'The job handlers and the HTTP edge share what they need through models/ and lib/.', from: { path: '^jobs/' }, to: { path: '^(server|scripts|bench|test)/' } },
    { name: 'migrations-not-above-models', severity: 'error', comment: 'Migrations may read domain constants, never the edge or the jobs.', from: { path: '^migrations/' }, to: { path: '^(server|jobs|scripts|bench|test)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.data|bench/results|docs)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs'] },
  },
}
