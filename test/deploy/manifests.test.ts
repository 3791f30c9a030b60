// Issue 15: every manifest in deploy/k8s is checked against the Kubernetes and KEDA OpenAPI schemas
// (kubernetes-models, @kubernetes-models/keda: the upstream JSON schemas, compiled), not only parsed
// as YAML, and against the rules an operator expects: pinned images, probes on declared ports,
// a locked-down securityContext, resources, no `replicas` where KEDA scales, a Job that cleans up.
// The schemas allow unknown fields (as the API server's non-strict decoding does), so the rules
// below name every field they rely on.
import test from 'ava'
import { readdir, readFile } from 'node:fs/promises'
import { parseAllDocuments } from 'yaml'
import { ConfigMap, Service } from 'kubernetes-models/v1'
import { Deployment } from 'kubernetes-models/apps/v1'
import { Job } from 'kubernetes-models/batch/v1'
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1'

interface Model {
  validate(): void
}
type Kind = new (data: any) => Model

const MODELS: Record<string, Kind> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
}

const dir = new URL('../../deploy/k8s/', import.meta.url)
const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

interface Manifest {
  file: string
  object: any
}

async function manifests(): Promise<Manifest[]> {
  const out: Manifest[] = []
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const document of parseAllDocuments(await readFile(new URL(file, dir), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`)
      const object = document.toJS()
      if (object !== null) out.push({ file, object })
    }
  }
  return out
}

/** Constructs the model for the object's apiVersion/kind and validates it; throws what is wrong. */
function validate(object: any): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`]
  if (!Model) throw new Error(`no schema for ${object.apiVersion}/${object.kind}`)
  new Model(object).validate()
}

const all = await manifests()
const named = (kind: string, name: string) => all.find((m) => m.object.kind === kind && m.object.metadata.name === name)!.object

test('every manifest passes the schema of its apiVersion and kind', (t) => {
  t.true(all.length >= 7)
  for (const { file, object } of all) t.notThrows(() => validate(object), `${file}: ${object.kind} ${object.metadata?.name}`)
})

test('a broken manifest fails validation', (t) => {
  const worker = structuredClone(named('Deployment', 'freshplan-leads-worker'))
  worker.spec.template.spec.containers[0].ports[0].containerPort = 'metrics' // must be an integer
  t.throws(() => validate(worker), { message: /containerPort must be integer/ })
  const noSelector = structuredClone(worker)
  noSelector.spec.template.spec.containers[0].ports[0].containerPort = 9464
  delete noSelector.spec.selector
  t.throws(() => validate(noSelector), { message: /required property selector/ })
  const job = structuredClone(named('Job', 'freshplan-leads-migrate'))
  job.spec.activeDeadlineSeconds = '10m'
  t.throws(() => validate(job), { message: /activeDeadlineSeconds must be integer/ })
  const scaled = structuredClone(named('ScaledObject', 'freshplan-leads-worker'))
  delete scaled.spec.triggers[0].type
  t.throws(() => validate(scaled), { message: /required property type/ })
  t.throws(() => validate({ apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'x' } }), { message: /no schema/ })
})

const podSpecs = () =>
  all.filter((m) => m.object.kind === 'Deployment' || m.object.kind === 'Job').map((m) => ({ name: m.object.metadata.name as string, pod: m.object.spec.template.spec }))

test('images are pinned to the release of package.json, never a moving tag', (t) => {
  for (const { name, pod } of podSpecs()) {
    for (const container of pod.containers) t.is(container.image, `registry.freshplan.example/freshplan-leads:${pkg.version}`, name)
  }
})

test('every pod runs non-root on a read-only root filesystem without privileges, with resources', (t) => {
  for (const { name, pod } of podSpecs()) {
    t.is(pod.securityContext?.runAsNonRoot, true, name)
    t.true(Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext.runAsUser > 0, name)
    t.is(pod.automountServiceAccountToken, false, name)
    for (const container of pod.containers) {
      t.like(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }, name)
      t.truthy(container.resources?.requests?.cpu, name)
      t.truthy(container.resources?.limits?.memory, name)
      // The one writable place is an emptyDir on /tmp.
      const tmp = container.volumeMounts?.find((v: any) => v.mountPath === '/tmp')
      t.truthy(pod.volumes?.find((v: any) => v.name === tmp?.name)?.emptyDir, name)
    }
  }
})

test('web and worker: probes on /health/* at a declared port, scraped where /metrics is served', (t) => {
  for (const name of ['freshplan-leads-web', 'freshplan-leads-worker']) {
    const deployment = named('Deployment', name)
    const [container] = deployment.spec.template.spec.containers
    const port = container.livenessProbe.httpGet.port
    const declared = container.ports.find((p: any) => p.name === port)
    t.truthy(declared, `${name}: the probes' port is declared`)
    t.is(container.livenessProbe.httpGet.path, '/health/live')
    t.is(container.readinessProbe.httpGet.path, '/health/ready')
    t.is(container.readinessProbe.httpGet.port, port)
    t.like(deployment.spec.template.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics', 'prometheus.io/port': String(declared.containerPort) })
  }
  const worker = named('Deployment', 'freshplan-leads-worker').spec.template.spec.containers[0]
  t.is(worker.env.find((e: any) => e.name === 'WORKER_METRICS_PORT')?.value, String(worker.ports[0].containerPort))
})

test('the Deployment KEDA scales has no replicas; the migration Job cleans up and has a deadline', (t) => {
  const scaled = named('ScaledObject', 'freshplan-leads-worker')
  const target = named('Deployment', scaled.spec.scaleTargetRef.name)
  t.false('replicas' in target.spec)
  const job = named('Job', 'freshplan-leads-migrate')
  t.true(job.spec.ttlSecondsAfterFinished > 0)
  t.true(job.spec.activeDeadlineSeconds > 0)
  t.is(job.spec.template.spec.restartPolicy, 'Never')
})
