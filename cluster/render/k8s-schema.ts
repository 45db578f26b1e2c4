/**
 * Each object checked against the official Kubernetes OpenAPI schema of its kind, offline: the
 * `kubernetes-models` package compiles those schemas (of one pinned Kubernetes release) into
 * validators, one module per kind. An object of a kind it has no model for is an error, not a pass.
 */
type Validating = new (data: unknown) => { validate(): void };

export async function schemaErrors(o: Record<string, unknown>): Promise<string[]> {
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const apiVersion = text(o.apiVersion);
  const kind = text(o.kind);
  const name = `${kind}/${(o.metadata as { name?: string } | undefined)?.name ?? '?'}`;
  const [group = '', version = ''] = apiVersion.includes('/')
    ? apiVersion.split('/')
    : ['', apiVersion];
  if (!/^[\w.-]*$/.test(group) || !/^\w+$/.test(version) || !/^\w+$/.test(kind))
    return [`${name}: no apiVersion and kind to check it by`];
  let Model: Validating | undefined;
  try {
    const path = `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
    Model = ((await import(path)) as Record<string, Validating | undefined>)[kind];
  } catch (err) {
    // The package itself missing is a broken install, not an unknown kind.
    if (/Cannot find package 'kubernetes-models'/.test(String(err))) throw err;
    Model = undefined;
  }
  if (!Model) return [`${name}: no schema for ${apiVersion} ${kind}`];
  try {
    new Model(o).validate();
    return [];
  } catch (err) {
    return [`${name}: ${err instanceof Error ? err.message : String(err)}`];
  }
}
