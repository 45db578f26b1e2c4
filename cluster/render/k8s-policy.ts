/**
 * What reviewers reject in Kubernetes manifests and a schema lets through, checked on the objects
 * of deploy/k8s/ (what `kubectl kustomize` builds): each finding names its rule, object and why.
 */
import { INGRESS_NGINX } from '../routing/upstream.js';
import { INGRESS_NGINX_ANNOTATIONS } from './ingress-nginx-annotations.js';

export const POLICY_RULES = [
  'probes',
  'resources',
  'image-tag',
  'plain-secret',
  'non-root',
  'peer-port',
  'annotations',
] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

export interface Finding {
  rule: PolicyRule;
  object: string;
  message: string;
}

/** The parts of a manifest the rules read; anything else in it is left alone. */
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    template?: PodTemplate;
    podSelector?: Selector;
    policyTypes?: string[];
    ingress?: IngressRule[];
  };
  data?: unknown;
  stringData?: unknown;
}
interface Selector {
  matchLabels?: Record<string, string>;
}
interface IngressRule {
  from?: Array<{ podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: unknown }>;
  ports?: Array<{ port?: number | string; endPort?: number }>;
}
export interface Container {
  name?: string;
  image?: string;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: {
    requests?: { cpu?: string; memory?: string };
    limits?: { cpu?: string; memory?: string };
  };
  securityContext?: { allowPrivilegeEscalation?: boolean };
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: unknown } }>;
  ports?: Array<{ containerPort?: number; name?: string }>;
}
export interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: {
    securityContext?: { runAsNonRoot?: boolean };
    containers?: Container[];
    initContainers?: Container[];
  };
}

const COMPONENT = 'app.kubernetes.io/component';
const PART_OF = 'app.kubernetes.io/part-of';
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job', 'DaemonSet']);
const LONG_RUNNING = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

const nameOf = (o: Manifest) => `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;
const containersOf = (pod: PodTemplate): Container[] => [
  ...(pod.spec?.initContainers ?? []),
  ...(pod.spec?.containers ?? []),
];

/** Names whose literal value is a secret; a reference (valueFrom, `$(NAME)` of one) is fine. */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY)/i;
/** A URL with a password in it (scheme://user:password@host), unless the password is `$(NAME)`. */
const URL_WITH_PASSWORD = /^[a-z][\w+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/i;
const REFERENCE = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/;

/** Whether `selector`'s labels all hold on `labels` (matchLabels only: what we render). */
const selects = (selector: Selector | undefined, labels: Record<string, string>) =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

export function checkPolicy(objects: readonly object[]): Finding[] {
  const findings: Finding[] = [];
  const manifests = objects as readonly Manifest[];
  const find = (rule: PolicyRule, o: Manifest, message: string) =>
    findings.push({ rule, object: nameOf(o), message });
  const policies = manifests.filter((o) => o.kind === 'NetworkPolicy');

  for (const o of manifests) {
    if (o.kind === 'Secret' && (o.data || o.stringData))
      find('plain-secret', o, 'a Secret with its values in the manifests: create it at install');
    if (o.kind === 'Ingress')
      for (const key of Object.keys(o.metadata?.annotations ?? {})) {
        const [prefix, name = ''] = key.split('/');
        if (prefix === INGRESS_NGINX && !INGRESS_NGINX_ANNOTATIONS.has(name))
          find('annotations', o, `${key} is no ingress-nginx annotation (misspelt?)`);
      }
    const pod = WORKLOADS.has(o.kind ?? '') ? o.spec?.template : undefined;
    if (!pod) continue;
    if (pod.spec?.securityContext?.runAsNonRoot !== true)
      find('non-root', o, 'the pod does not say runAsNonRoot: true');
    for (const c of containersOf(pod)) {
      const where = `container ${c.name ?? '?'}`;
      const main = (pod.spec?.containers ?? []).includes(c);
      if (LONG_RUNNING.has(o.kind ?? '') && main && (!c.readinessProbe || !c.livenessProbe))
        find('probes', o, `${where} lacks a readiness or liveness probe`);
      const r = c.resources ?? {};
      if (!r.requests?.cpu || !r.requests.memory || !r.limits?.cpu || !r.limits.memory)
        find('resources', o, `${where} lacks CPU and memory requests and limits`);
      const image = c.image ?? '';
      const tag = image.includes('@')
        ? 'digest'
        : image.slice(image.lastIndexOf('/') + 1).split(':')[1];
      if (!tag || tag === 'latest') find('image-tag', o, `${where}: image "${image}" has no tag`);
      if (c.securityContext?.allowPrivilegeEscalation !== false)
        find('non-root', o, `${where} may escalate privileges`);
      for (const message of plainSecrets(c)) find('plain-secret', o, `${where}: ${message}`);
      const port = peerPort(c);
      if (port !== undefined)
        peerPortClosed(o, port, pod.metadata?.labels ?? {}, policies, (m) =>
          find('peer-port', o, m),
        );
    }
  }
  return findings;
}

/**
 * Secrets written into a container's environment: a secret-named variable with a literal value,
 * or a URL with a password in it. `$(NAME)` counts as a reference only where NAME was entered
 * before it from a Secret (else Kubernetes leaves the text as it is).
 */
function plainSecrets(c: Container): string[] {
  const fromSecret = new Set<string>();
  const out: string[] = [];
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef) fromSecret.add(e.name);
    if (typeof e.value !== 'string' || !e.value) continue;
    const referenced = (text: string) => fromSecret.has(REFERENCE.exec(text)?.[1] ?? '');
    if (SECRET_NAME.test(e.name) && !referenced(e.value))
      out.push(`${e.name} holds its value in plain text`);
    const password = URL_WITH_PASSWORD.exec(e.value)?.[1];
    if (password !== undefined && !referenced(password))
      out.push(`${e.name} is a URL with a password in it`);
  }
  return out;
}

/** The port a replica takes its peers on: a container port named `peer`, or REPLICATION_PORT. */
function peerPort(c: Container): number | undefined {
  const named = c.ports?.find((p) => p.name === 'peer')?.containerPort;
  const env = c.env?.find((e) => e.name === 'REPLICATION_PORT')?.value;
  return named ?? (env && /^\d+$/.test(env) ? Number(env) : undefined);
}

/**
 * The peer port is open only to the replicas: some policy selects these pods (else every pod may
 * connect), and every rule of one that lets the port in (by number, by a range or a name that
 * holds it, or by naming no ports) names only these replicas as its sources: a pod selector with
 * their component and their application, nothing wider.
 */
function peerPortClosed(
  o: Manifest,
  port: number,
  labels: Record<string, string>,
  policies: readonly Manifest[],
  fail: (message: string) => void,
) {
  const mine = policies.filter(
    (p) =>
      selects(p.spec?.podSelector, labels) &&
      (p.spec?.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  if (!mine.length) {
    fail(`no NetworkPolicy selects ${nameOf(o)}'s pods: port ${port} is open to all`);
    return;
  }
  for (const p of mine)
    for (const rule of p.spec?.ingress ?? []) {
      const lets =
        !rule.ports?.length ||
        rule.ports.some(
          (x) =>
            typeof x.port === 'number'
              ? x.port === port || (x.endPort !== undefined && x.port <= port && port <= x.endPort)
              : x.port !== undefined, // a named port: assume the worst
        );
      if (!lets) continue;
      const onlyReplicas =
        rule.from?.length &&
        rule.from.every(
          ({ podSelector, namespaceSelector, ipBlock }) =>
            podSelector &&
            !namespaceSelector &&
            !ipBlock &&
            selects(podSelector, labels) &&
            [COMPONENT, PART_OF].every((k) => podSelector.matchLabels?.[k] === labels[k]),
        );
      if (!onlyReplicas) fail(`${nameOf(p)} lets port ${port} in from more than the replicas`);
    }
}
