/**
 * Server descriptions as Kubernetes objects, the third renderer beside the native runner and
 * compose: `deploy/k8s/` is a kustomize base (Postgres, the migration Job, the app's Deployment
 * with its Service, PodDisruptionBudget and HPA, the Ingress, the network policies) and one
 * overlay per profile (its session backend's servers, its replicas' settings, its routing as
 * ingress-nginx annotations, its peers). Every object comes from the descriptions the other two
 * renderers read, in Kubernetes' place (k8s-place.ts); nginx is ingress-nginx's job here.
 */
import { Document } from 'yaml';
import { defined } from '../../src/common/defined.js';
import { profileNames, profileOf, routingOf, type Profile, type ProfileName } from '../profiles.js';
import { INGRESS_NGINX } from '../routing/upstream.js';
import { APP_IMAGE, APP_PORT } from '../services/app.js';
import {
  isServer,
  type JobDescription,
  type Probe,
  type ServerDescription,
} from '../services/description.js';
import { describeAll, type DescribedPlugin } from './compose-place.js';
import { containerCommand, intersect } from './compose.js';
import { k8sPlace, PEER_PORT, PEER_SERVICE, SECRET_KEYS, SECRET_NAME } from './k8s-place.js';

/** One Kubernetes object, as YAML would hold it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Readonly<Record<string, string>>;
  };
  [field: string]: unknown;
}

/** The app's name on Kubernetes: its Deployment, Service, Ingress, PDB, HPA, Job prefix. */
export const APP = 'scaled-login';
/** The image name the manifests use; kustomize's `images:` points it at the user's registry. */
export const K8S_IMAGE = APP_IMAGE.replace(/:.*/, '');
/** Until ingress-nginx has taken a leaving pod out of its list, it still sends it requests. */
const PRE_STOP_SECONDS = 5;
/** The replicas a profile runs with at least (the native runner's and compose's count). */
const MIN_REPLICAS = 3;
const PART_OF = { 'app.kubernetes.io/part-of': APP };
const labelsOf = (name: string, component: 'replica' | 'store' | 'job') => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/component': component,
  ...PART_OF,
});
const REPLICA_LABELS = labelsOf(APP, 'replica');

/** Each image's own non-root user (the images' Dockerfiles): volumes are made theirs by fsGroup. */
const IMAGE_USERS: ReadonlyArray<[prefix: string, uid: number, gid: number]> = [
  [K8S_IMAGE, 1000, 1000], // node
  ['redis:', 999, 1000],
  ['postgres:', 70, 70],
  ['memcached:', 11211, 11211],
];

/** Requests and limits by kind of server; a kind not here gets the smallest. */
interface Resources {
  cpu: [request: string, limit: string];
  memory: [request: string, limit: string];
}
const RESOURCES: Record<string, Resources> & { small: Resources } = {
  replica: { cpu: ['250m', '1'], memory: ['256Mi', '512Mi'] },
  postgres: { cpu: ['250m', '1'], memory: ['256Mi', '1Gi'] },
  redis: { cpu: ['100m', '500m'], memory: ['128Mi', '512Mi'] },
  memcached: { cpu: ['100m', '500m'], memory: ['96Mi', '128Mi'] },
  job: { cpu: ['100m', '500m'], memory: ['128Mi', '256Mi'] },
  small: { cpu: ['50m', '200m'], memory: ['32Mi', '64Mi'] },
};

function resourcesOf(kind: string) {
  const r = RESOURCES[kind] ?? RESOURCES.small;
  return {
    requests: { cpu: r.cpu[0], memory: r.memory[0] },
    limits: { cpu: r.cpu[1], memory: r.memory[1] },
  };
}

function podSecurity(image: string) {
  const user = IMAGE_USERS.find(([prefix]) => image.startsWith(prefix));
  if (!user) throw new Error(`k8s: no non-root user known for image ${image} (IMAGE_USERS)`);
  const [, uid, gid] = user;
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    fsGroup: gid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

const containerSecurity = (readOnlyRoot: boolean) => ({
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: readOnlyRoot,
  capabilities: { drop: ['ALL'] },
});

/**
 * An environment as Kubernetes takes it: `$(KEY)` of a secret key becomes a reference to the
 * Secret, entered before the values that use it (Kubernetes expands `$(NAME)` only of names
 * already defined); any other `$(` is escaped, as Kubernetes would expand it.
 */
export function envOf(env: Readonly<Record<string, string>>): unknown[] {
  const ref = (key: string) => `$(${key})`;
  const fromSecret = (name: string, key: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: SECRET_NAME, key } },
  });
  // Keys used inside a value (DATABASE_URL's password) are entered first, under their own name.
  const inside = SECRET_KEYS.filter(
    (k) => !(k in env) && Object.values(env).some((v) => v !== ref(k) && v.includes(ref(k))),
  );
  const rest = Object.entries(env).map(([name, value]) => {
    const key = SECRET_KEYS.find((k) => value === ref(k));
    if (key) return fromSecret(name, key);
    const escaped = value.replace(/\$\(([^)]*)\)?/g, (m: string, inner: string) =>
      (SECRET_KEYS as readonly string[]).includes(inner) && m.endsWith(')') ? m : `$${m}`,
    );
    return { name, value: escaped };
  });
  return [...inside.map((k) => fromSecret(k, k)), ...rest];
}

/** A command for Kubernetes' `args` (the image's entrypoint still runs, as in compose). */
const argsOf = (unit: ServerDescription | JobDescription) =>
  containerCommand(unit).map((w) => w.replace(/\$\(/g, '$$$$('));

/** A probe as Kubernetes checks it: the same check as compose's health check. */
export function probeOf(probe: Probe, every: { periodSeconds: number; failureThreshold: number }) {
  const common = { ...every, timeoutSeconds: 3 };
  switch (probe.kind) {
    case 'http':
      return { httpGet: { path: probe.path, port: probe.port }, ...common };
    case 'redis':
      return {
        exec: { command: ['sh', '-c', `redis-cli -p ${probe.port} ping | grep -q PONG`] },
        ...common,
      };
    case 'postgres':
      return {
        exec: {
          command: ['pg_isready', '-h', '127.0.0.1', '-p', String(probe.port)].concat([
            '-U',
            probe.user,
            '-d',
            probe.database,
          ]),
        },
        ...common,
      };
    case 'memcached':
    case 'tcp':
      return { tcpSocket: { port: probe.port }, ...common };
  }
}

/**
 * Three misses in a row, not one: ingress-nginx drops a pod from its list at once, and with
 * persistent cookie affinity its clients are pinned elsewhere for good (where sessions live in
 * that pod's memory, logged out). One slow check (a store wait past BACKEND_TIMEOUT_MS) is not it.
 */
const READY = { periodSeconds: 2, failureThreshold: 3 };
const LIVE = { periodSeconds: 10, failureThreshold: 3 };
/**
 * Until a server first answers its readiness check, neither probe runs: Postgres's first start
 * (initdb, then a server on the socket only) and Redis loading its append-only file take a while,
 * and a liveness probe would kill them for it. Five minutes at most.
 */
const STARTUP = { periodSeconds: 2, failureThreshold: 150 };

/** A store server: a StatefulSet of one, with a headless Service of its name (its pod's address). */
function storeObjects(s: ServerDescription): K8sObject[] {
  const labels = labelsOf(s.service, 'store');
  const selector = { 'app.kubernetes.io/name': s.service };
  const volumeMounts = s.state ? [{ name: 'data', mountPath: s.state.dir }] : undefined;
  const prepare = s.prepare
    ? [
        {
          name: 'prepare',
          image: K8S_IMAGE,
          // The same code compose's one-shot container and the native runner run.
          args: ['node', 'dist/tools/cluster/prepare.js', s.service],
          resources: resourcesOf('job'),
          securityContext: containerSecurity(true),
          volumeMounts,
        },
      ]
    : undefined;
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.service, labels },
      spec: {
        clusterIP: 'None',
        // Peers of a store (Sentinel, Cluster nodes) find a starting node before it is ready.
        publishNotReadyAddresses: true,
        selector,
        ports: [{ name: 'main', port: s.port }],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: s.service, labels },
      spec: {
        serviceName: s.service,
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            securityContext: podSecurity(s.image),
            terminationGracePeriodSeconds: Math.ceil(s.stop.timeoutMs / 1000),
            initContainers: prepare,
            containers: [
              {
                name: s.kind,
                image: s.image,
                args: argsOf(s),
                env: s.env ? envOf(s.env) : undefined,
                ports: [{ name: 'main', containerPort: s.port }],
                startupProbe: probeOf(s.ready, STARTUP),
                readinessProbe: probeOf(s.ready, READY),
                // Alive is listening: a store busy loading or failing over is not killed for it.
                livenessProbe: probeOf({ kind: 'tcp', port: s.port }, LIVE),
                resources: resourcesOf(s.kind),
                securityContext: containerSecurity(false),
                volumeMounts,
              },
            ],
          },
        },
        volumeClaimTemplates: s.state
          ? [
              {
                metadata: { name: 'data' },
                spec: {
                  accessModes: ['ReadWriteOnce'],
                  resources: { requests: { storage: s.kind === 'postgres' ? '2Gi' : '1Gi' } },
                },
              },
            ]
          : undefined,
      },
    },
  ];
}

/**
 * A one-shot job (the migration, the Redis Cluster's create). A Job's pod template cannot change:
 * an app job is named after the version, so an upgrade is a new Job that runs again.
 */
function jobObject(job: JobDescription, version: string): K8sObject {
  const app = job.image === APP_IMAGE;
  const name = app ? `${APP}-${job.service}` : job.service;
  const image = app ? K8S_IMAGE : job.image;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: app ? `${name}-${version.replace(/[^a-z0-9-]/g, '-')}` : name,
      labels: labelsOf(name, 'job'),
    },
    spec: {
      // What it waits for (a database, every node) may still be starting: it tries again.
      backoffLimit: 20,
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: labelsOf(name, 'job') },
        spec: {
          restartPolicy: 'OnFailure',
          securityContext: podSecurity(image),
          containers: [
            {
              name: job.service,
              image,
              args: argsOf(job),
              env: job.env ? envOf(job.env) : undefined,
              resources: resourcesOf('job'),
              securityContext: containerSecurity(true),
            },
          ],
        },
      },
    },
  };
}

/** The replica's environment for Kubernetes: its own name from the pod, no nginx settings. */
function replicaEnv(profile: Profile, s: ServerDescription): Record<string, string> {
  // ingress-nginx routes here: what our nginx's routing tells the replicas does not apply.
  const dropped = new Set([...Object.keys(routingOf(profile).replicaEnv ?? {}), 'REPLICA_NAME']);
  return Object.fromEntries(Object.entries(s.env ?? {}).filter(([key]) => !dropped.has(key)));
}

const withoutKeys = (env: Record<string, string>, keys: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).filter(([k, v]) => keys[k] !== v));

const ROLLOUT = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } };

/** The app: Deployment, Service, PodDisruptionBudget and HPA, with the environment all share. */
function appObjects(replica: ServerDescription, env: Record<string, string>): K8sObject[] {
  const selector = { 'app.kubernetes.io/name': APP };
  const live: Probe = { kind: 'http', port: APP_PORT, path: '/health/live' };
  const nameEnv = { name: 'REPLICA_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, labels: REPLICA_LABELS },
      spec: {
        // No `replicas`: the HPA keeps at least MIN_REPLICAS, and an `apply` does not reset its
        // count (a scale-in). Rows that a scale-in logs out get a fixed count instead.
        strategy: ROLLOUT,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: REPLICA_LABELS },
          spec: {
            securityContext: podSecurity(K8S_IMAGE),
            // The preStop wait, then the app's own drain (SIGTERM: readiness fails, in-flight
            // requests finish, a backup replica hands its copies on) within its stop budget.
            terminationGracePeriodSeconds:
              PRE_STOP_SECONDS + Math.ceil(replica.stop.timeoutMs / 1000),
            initContainers: [
              {
                name: 'wait-for-migration',
                image: K8S_IMAGE,
                args: ['node', 'dist/database/migrate.js', '--wait'],
                env: envOf(env),
                resources: resourcesOf('job'),
                securityContext: containerSecurity(true),
              },
            ],
            containers: [
              {
                name: 'app',
                image: K8S_IMAGE,
                args: argsOf(replica),
                env: [nameEnv, ...envOf(env)],
                ports: [{ name: 'http', containerPort: APP_PORT }],
                startupProbe: probeOf(live, STARTUP),
                readinessProbe: probeOf(replica.ready, READY),
                livenessProbe: probeOf(live, LIVE),
                lifecycle: { preStop: { exec: { command: ['sleep', String(PRE_STOP_SECONDS)] } } },
                resources: resourcesOf('replica'),
                securityContext: containerSecurity(true),
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: APP, labels: REPLICA_LABELS },
      spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: APP, labels: REPLICA_LABELS },
      spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: APP, labels: REPLICA_LABELS },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP },
        minReplicas: MIN_REPLICAS,
        maxReplicas: 10,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
          },
        ],
      },
    },
  ];
}

/** What our nginx template does for every profile, as ingress-nginx annotations. */
const INGRESS_COMMON = {
  [`${INGRESS_NGINX}/proxy-body-size`]: '64k',
  [`${INGRESS_NGINX}/proxy-next-upstream`]: 'error timeout',
  [`${INGRESS_NGINX}/proxy-next-upstream-tries`]: '3',
  [`${INGRESS_NGINX}/proxy-next-upstream-timeout`]: '5',
};

function ingressObject(): K8sObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: APP, labels: REPLICA_LABELS, annotations: INGRESS_COMMON },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: APP, port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/**
 * Who may talk to whom: the replicas' HTTP port from anywhere (the ingress controller runs in a
 * namespace of its own), every store only from the project's own pods.
 */
function networkPolicies(): K8sObject[] {
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${APP}-replicas`, labels: REPLICA_LABELS },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/component': 'replica', ...PART_OF } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: APP_PORT }] }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${APP}-stores`, labels: PART_OF },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/component': 'store', ...PART_OF } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: PART_OF } }] }],
      },
    },
  ];
}

/** The peers of `replicated` and `backup`: a headless Service over every app pod, port closed to others. */
function peerObjects(): K8sObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: PEER_SERVICE, labels: REPLICA_LABELS },
      spec: {
        clusterIP: 'None',
        // A starting replica fetches its state from the others before it is ready.
        publishNotReadyAddresses: true,
        selector: { 'app.kubernetes.io/name': APP },
        ports: [{ name: 'peer', port: PEER_PORT }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: PEER_SERVICE, labels: REPLICA_LABELS },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/component': 'replica', ...PART_OF } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                podSelector: {
                  matchLabels: { 'app.kubernetes.io/component': 'replica', ...PART_OF },
                },
              },
            ],
            ports: [{ protocol: 'TCP', port: PEER_PORT }],
          },
        ],
      },
    },
  ];
}

/** Objects as one YAML file (documents separated by `---`), with a header comment. */
export function yamlOf(objects: readonly unknown[], header: string): string {
  const docs = objects.map((o, i) => {
    // YAML 1.1, as kubectl reads it: `yes` and `no` (Redis' arguments) are quoted, not booleans.
    const doc = new Document(o, { version: '1.1', aliasDuplicateObjects: false });
    if (i === 0 && header) doc.commentBefore = header;
    return doc.toString({ lineWidth: 0 });
  });
  return docs.join('---\n');
}

const HEADER =
  ' GENERATED by `npm run k8s:generate` from the profile table (cluster/profiles.ts) and the\n' +
  ' server descriptions (cluster/services/): edit those, not this file. See docs/kubernetes.md.';

export interface K8sManifests {
  /** Every file of deploy/k8s/, by its path under it. */
  files: Map<string, string>;
  /**
   * Each profile's objects as `kubectl kustomize` of its overlay should build them: the base with
   * the overlay's patches applied, and its own objects (what the checks read without kubectl).
   */
  objects: Map<ProfileName, K8sObject[]>;
}

interface PodSpec {
  containers: Array<{ env: unknown[]; ports: unknown[] }>;
}

const PEER_CONTAINER_PORT = { name: 'peer', containerPort: PEER_PORT };
/** The app image as the overlays name it: one entry, for the base's objects and their own. */
const IMAGE_ENTRY = (version: string) => ({
  name: K8S_IMAGE,
  newName: `registry.example.com/${K8S_IMAGE}`,
  newTag: version,
});

/**
 * The overlay's patches applied as kustomize's strategic merge does for what they hold: the
 * profile's environment added to the app container's (no name in both), the peer port, a fixed
 * count where the row gets no HPA. test/k8s.e2e-spec.ts checks kubectl builds the same.
 */
function patched(base: K8sObject, own: unknown[], peers: boolean, fixed: boolean): K8sObject {
  const o = structuredClone(base);
  const spec = o.spec as { replicas?: number; template: { spec: PodSpec } };
  const app = defined(spec.template.spec.containers[0], 'the app container');
  // kustomize enters a patch's new entries first (so a value of the patch cannot use `$(NAME)`
  // of the base's: the policy check's plain-secret rule would see the reference unresolved).
  app.env = [...own, ...app.env];
  if (peers) app.ports = [...app.ports, PEER_CONTAINER_PORT];
  if (fixed) o.spec = { replicas: MIN_REPLICAS, ...spec };
  return o;
}

export async function renderK8s(
  described?: readonly DescribedPlugin[],
  version = '0.1.0',
): Promise<K8sManifests> {
  const all = described ?? (await describeAll(k8sPlace));
  const files = new Map<string, string>();
  const objects = new Map<ProfileName, K8sObject[]>();
  const replicaOf = (p: Profile) => {
    const replica = all
      .filter((a) => a.profile === p && a.plugin.name === 'app')
      .flatMap((a) => a.described.units)
      .filter(isServer)
      .find((u) => u.kind === 'replica');
    if (!replica) throw new Error(`k8s: profile ${p.name} describes no replica`);
    return replica;
  };
  const envs = new Map(
    profileNames.map((n) => [n, replicaEnv(profileOf(n), replicaOf(profileOf(n)))]),
  );
  const shared = intersect([...envs.values()]);
  const first = profileOf(defined(profileNames[0], 'a profile'));
  const baseUnits = all
    .filter((a) => a.profile === first && (a.plugin.name === 'postgres' || a.plugin.name === 'app'))
    .flatMap((a) => a.described.units);
  const migrate = defined(
    baseUnits.find((u): u is JobDescription => !isServer(u) && u.service === 'migrate'),
    'the migrate job',
  );
  const postgres = defined(
    baseUnits.filter(isServer).find((u) => u.kind === 'postgres'),
    'the postgres server',
  );

  const base = {
    'app.yaml': appObjects(replicaOf(first), shared),
    'migrate.yaml': [jobObject(migrate, version)],
    'postgres.yaml': storeObjects(postgres),
    'ingress.yaml': [ingressObject()],
    'network-policy.yaml': networkPolicies(),
  };
  for (const [file, os] of Object.entries(base)) files.set(`base/${file}`, yamlOf(os, HEADER));
  files.set(
    'base/kustomization.yaml',
    yamlOf(
      [
        {
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: Object.keys(base),
        },
      ],
      HEADER,
    ),
  );
  const imaged = (o: K8sObject): K8sObject =>
    JSON.parse(
      JSON.stringify(o).replaceAll(
        `"image":"${K8S_IMAGE}"`,
        `"image":"registry.example.com/${K8S_IMAGE}:${version}"`,
      ),
    ) as K8sObject;

  for (const name of profileNames) {
    const profile = profileOf(name);
    const mine = all.filter(
      (a) => a.profile === profile && !['postgres', 'app', 'nginx'].includes(a.plugin.name),
    );
    const stores = mine.flatMap((a) =>
      a.described.units.flatMap((u) => (isServer(u) ? storeObjects(u) : [jobObject(u, version)])),
    );
    const env = defined(envs.get(name), `${name}'s replica environment`);
    const peers = env.REPLICATION_MEMBERSHIP !== undefined;
    const resources = ['../../base'];
    if (stores.length) {
      files.set(`overlays/${name}/stores.yaml`, yamlOf(stores, HEADER));
      resources.push('stores.yaml');
    }
    if (peers) {
      files.set(`overlays/${name}/peers.yaml`, yamlOf(peerObjects(), HEADER));
      resources.push('peers.yaml');
    }
    const own = envOf(withoutKeys(env, shared));
    const routing = routingOf(profile);
    // Where a scale-in logs users out, no HPA decides when: a fixed count (scale by hand).
    const fixed = profile.guarantees.survivesScaleIn !== true;
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP },
      spec: {
        replicas: fixed ? MIN_REPLICAS : undefined,
        template: {
          spec: {
            containers: [
              { name: 'app', env: own, ports: peers ? [PEER_CONTAINER_PORT] : undefined },
            ],
          },
        },
      },
    };
    const noHpa = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: APP },
      $patch: 'delete',
    };
    const ingress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: APP, annotations: routing.ingressNginx.annotations },
    };
    const comment = routing.ingressNginx.differs
      ? ` ${profile.name}: ${profile.shows}\n Routing on ingress-nginx: ${routing.ingressNginx.differs}.`
      : ` ${profile.name}: ${profile.shows}`;
    files.set(
      `overlays/${name}/kustomization.yaml`,
      yamlOf(
        [
          {
            apiVersion: 'kustomize.config.k8s.io/v1beta1',
            kind: 'Kustomization',
            resources,
            // Point this at your registry in an overlay of your own: docs/kubernetes.md.
            images: [IMAGE_ENTRY(version)],
            patches: [deployment, ingress, ...(fixed ? [noHpa] : [])].map((p) => ({
              patch: yamlOf([p], ''),
            })),
          },
        ],
        `${HEADER}\n\n${comment}`,
      ),
    );
    const built = Object.values(base)
      .flat()
      .filter((o) => !(fixed && o.kind === 'HorizontalPodAutoscaler'))
      .map((o): K8sObject => {
        if (o.kind === 'Deployment') return patched(o, own, peers, fixed);
        if (o.kind !== 'Ingress') return o;
        const annotations = { ...o.metadata.annotations, ...routing.ingressNginx.annotations };
        return { ...o, metadata: { ...o.metadata, annotations } };
      });
    objects.set(name, [...built, ...stores, ...(peers ? peerObjects() : [])].map(imaged));
  }
  return { files, objects };
}
