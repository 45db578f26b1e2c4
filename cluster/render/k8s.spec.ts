import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { defined } from '../../src/common/defined.js';
import { checkObjects, generateK8s, staleK8s } from '../k8s.js';
import { backendOf, profileNames, profileOf } from '../profiles.js';
import { envOf } from './k8s.js';
import {
  checkPolicy,
  POLICY_RULES,
  type Container,
  type Manifest,
  type PolicyRule,
} from './k8s-policy.js';
import { SECRET_NAME } from './k8s-place.js';
import { schemaErrors } from './k8s-schema.js';

describe('deploy/k8s/', () => {
  it('is what the profile table renders (npm run k8s:generate)', async () => {
    expect(await staleK8s()).toEqual([]);
  });

  // What kubectl kustomize builds of each overlay is these objects: test/k8s.e2e-spec.ts.
  it('has, for every profile, objects valid against their schemas and clean of the policy', async () => {
    const { objects } = await generateK8s();
    expect([...objects.keys()]).toEqual([...profileNames]);
    for (const [profile, os] of objects) {
      const c = await checkObjects(profile, os);
      expect({ profile, schema: c.schema, policy: c.policy }).toEqual({
        profile,
        schema: [],
        policy: [],
      });
      const names = os.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(names).toEqual(
        expect.arrayContaining([
          'Deployment/scaled-login',
          'Service/scaled-login',
          'Ingress/scaled-login',
          'PodDisruptionBudget/scaled-login',
          'StatefulSet/postgres',
        ]),
      );
      // An HPA only where a scale-in logs nobody out; the peers' Service where replicas talk.
      const p = profileOf(profile);
      expect(names.includes('HorizontalPodAutoscaler/scaled-login')).toBe(
        p.guarantees.survivesScaleIn === true,
      );
      expect(names.includes('Service/scaled-login-peers')).toBe(backendOf(p).peerChannel === true);
    }
  });
});

describe('the environment on Kubernetes', () => {
  it('takes secrets from the Secret, enters a key a value uses first, and escapes other $(', () => {
    const env = envOf({
      SESSION_SECRET: '$(SESSION_SECRET)',
      DATABASE_URL: 'postgres://app:$(POSTGRES_PASSWORD)@postgres:5432/app',
      SHELL: 'echo $(hostname) $(NOT_A_SECRET)',
    });
    const ref = (key: string) => ({ secretKeyRef: { name: SECRET_NAME, key } });
    expect(env).toEqual([
      { name: 'POSTGRES_PASSWORD', valueFrom: ref('POSTGRES_PASSWORD') },
      { name: 'SESSION_SECRET', valueFrom: ref('SESSION_SECRET') },
      { name: 'DATABASE_URL', value: 'postgres://app:$(POSTGRES_PASSWORD)@postgres:5432/app' },
      { name: 'SHELL', value: 'echo $$(hostname) $$(NOT_A_SECRET)' },
    ]);
  });
});

describe('the schema check', () => {
  it('refuses a field of the wrong type, a missing required field and a kind it has no model for', async () => {
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} };
    expect(await schemaErrors(service)).toEqual([]);
    expect(await schemaErrors({ ...service, spec: { ports: [{ port: 'eighty' }] } })).not.toEqual(
      [],
    );
    expect(
      await schemaErrors({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd' },
        spec: { template: {} },
      }),
    ).not.toEqual([]);
    expect(
      await schemaErrors({ apiVersion: 'v1', kind: 'Sevrice', metadata: { name: 's' } }),
    ).toEqual(['Sevrice/s: no schema for v1 Sevrice']);
  });
});

describe('the policy check', () => {
  // The overlay with the most in it: a store, peers and their policy.
  let objects: Manifest[];
  beforeAll(async () => {
    objects = defined((await generateK8s()).objects.get('replicated'), 'the replicated overlay');
  });
  const workloads = (os: Manifest[]) =>
    os.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind ?? ''));
  const named = (o: Manifest) => `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;
  const podOf = (o: Manifest) => defined(o.spec?.template?.spec, `${named(o)}'s pod`);
  const mainOf = (o: Manifest) => defined(podOf(o).containers?.[0], `${named(o)}'s main container`);
  const containers = (o: Manifest): Container[] => [
    ...(podOf(o).initContainers ?? []),
    ...defined(podOf(o).containers, `${named(o)}'s containers`),
  ];
  const firstOf = (o: Manifest) => defined(containers(o)[0], `${named(o)}'s first container`);
  const pickOf = <T>(items: T[], pick: number): T =>
    defined(items[pick % items.length], `one of ${items.length} items`);

  it('passes the rendered objects', () => {
    expect(checkPolicy(objects)).toEqual([]);
  });

  /** One way to break each rule, on a generated target: the check names that rule and object. */
  const breakers: Record<PolicyRule, (os: Manifest[], pick: number) => string> = {
    probes: (os, pick) => {
      const o = pickOf(
        os.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet'),
        pick,
      );
      const main = mainOf(o);
      if (pick % 2) delete main.readinessProbe;
      else delete main.livenessProbe;
      return named(o);
    },
    resources: (os, pick) => {
      const o = pickOf(workloads(os), pick);
      const c = pickOf(containers(o), pick >> 1);
      const resources = defined(c.resources, `${c.name ?? '?'}'s resources`);
      if (pick % 2) delete resources.limits;
      else delete resources.requests;
      return named(o);
    },
    'image-tag': (os, pick) => {
      const o = pickOf(workloads(os), pick);
      const c = firstOf(o);
      const bare = defined(c.image, `${c.name ?? '?'}'s image`).replace(/:.*/, '');
      c.image = pick % 2 ? `${bare}:latest` : bare;
      return named(o);
    },
    'plain-secret': (os, pick) => {
      if (pick % 4 === 0) {
        os.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, data: { a: 'YQ==' } });
        return 'Secret/x';
      }
      const o = pickOf(workloads(os), pick);
      firstOf(o).env = [
        pickOf(
          [
            { name: 'SESSION_SECRET', value: 'hunter2-hunter2' },
            { name: 'DATABASE_URL', value: 'postgres://app:app@postgres:5432/app' },
            // A reference to nothing the Secret entered: Kubernetes leaves the text as it is.
            { name: 'REPLICATION_SECRET', value: '$(REPLICATION_SECRET)' },
          ],
          pick,
        ),
      ];
      return named(o);
    },
    'non-root': (os, pick) => {
      const o = pickOf(workloads(os), pick);
      if (pick % 2)
        delete defined(podOf(o).securityContext, `${named(o)}'s pod security`).runAsNonRoot;
      else {
        const c = firstOf(o);
        defined(c.securityContext, `${c.name ?? '?'}'s security`).allowPrivilegeEscalation = true;
      }
      return named(o);
    },
    'peer-port': (os, pick) => {
      const policies = os.filter((o) => o.kind === 'NetworkPolicy');
      const peers = policies.find((o) => o.metadata?.name?.endsWith('peers'));
      const rule = defined(peers?.spec?.ingress?.[0], "the peers policy's ingress rule");
      const wider = [
        () => delete rule.from,
        () =>
          (rule.from = [
            { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'scaled-login' } } },
          ]),
        () =>
          (rule.from = [
            { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'replica' } } },
          ]),
        () => {
          rule.ports = [{ port: 3000, endPort: 5000 }];
          delete rule.from;
        },
        () => {
          policies.forEach((p) => (p.kind = 'ConfigMap'));
        },
      ];
      pickOf(wider, pick)();
      return 'Deployment/scaled-login';
    },
    annotations: (os, pick) => {
      const ingress = os.find((o) => o.kind === 'Ingress');
      const annotations = defined(ingress?.metadata?.annotations, "the Ingress's annotations");
      const misspelt = ['upstream-hash', 'affinty', 'session-cookie-maxage', 'load-balancing'];
      annotations[`nginx.ingress.kubernetes.io/${pickOf(misspelt, pick)}`] = 'x';
      return 'Ingress/scaled-login';
    },
  };

  it.each(POLICY_RULES.map((r) => [r]))('fails when "%s" is broken', (rule) => {
    fc.assert(
      fc.property(fc.nat(1000), (pick) => {
        const os = structuredClone(objects);
        const target = breakers[rule](os, pick);
        const findings = checkPolicy(os);
        expect(findings.some((f) => f.rule === rule && f.object === target)).toBe(true);
        // Nothing else was broken.
        expect(new Set(findings.map((f) => f.rule))).toEqual(new Set([rule]));
      }),
      { numRuns: 30 },
    );
  });
});
