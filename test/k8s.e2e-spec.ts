/**
 * deploy/k8s/ as a user's `kubectl apply -k` would send it: every overlay built by the real
 * `kubectl kustomize` (kubectl 1.21 or later; no cluster needed), each object valid against its
 * Kubernetes schema and clean of the policy, and the build what the renderer meant (the unit
 * specs check the renderer's objects without kubectl: cluster/render/k8s.spec.ts).
 */
import { describe, expect, it } from '@jest/globals';
import { checkOverlays } from '../cluster/k8s.js';
import { profileNames } from '../cluster/profiles.js';

describe('deploy/k8s/ built by kubectl kustomize', () => {
  it('builds every overlay into valid, policy-clean objects: the ones the renderer meant', async () => {
    const checks = await checkOverlays();
    expect(checks.map((c) => c.profile)).toEqual([...profileNames]);
    for (const c of checks)
      expect({
        profile: c.profile,
        asRendered: c.asRendered,
        schema: c.schema,
        policy: c.policy,
      }).toEqual({
        profile: c.profile,
        asRendered: true,
        schema: [],
        policy: [],
      });
  }, 120_000);
});
