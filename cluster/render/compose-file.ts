/**
 * docker-compose.yml as the plugins describe it, written with the `yaml` library: extension
 * fields with anchors (`x-replica: &replica`) that services merge (`<<: *replica`), so the file
 * stays readable by people although a program writes it. YAML 1.1, as docker-compose v1 (PyYAML)
 * reads it: strings that 1.1 would take for something else ("yes", "3000") come out quoted.
 */
import { Document, Pair, Scalar, YAMLMap, YAMLSeq, isNode, type Node } from 'yaml';

/**
 * A value with an anchor: written out where it is first placed (an `x-<name>` field, or inline in
 * the first service that uses it), and as `*name` (or `<<: *name` under MERGE) everywhere after.
 */
export class Fragment {
  placed = false;
  constructor(
    readonly name: string,
    readonly node: Node,
  ) {}
}

/** A value with a comment for the line(s) before its key. */
export class Note {
  constructor(
    readonly comment: string,
    readonly value: ComposeValue,
  ) {}
}

/** `note('why', value)`: the generated file keeps the why next to the setting. */
export const note = (comment: string, value: ComposeValue): Note => new Note(comment, value);

/** `depends_on` from service names to the condition each must reach first. */
export function dependsOn(conditions: Record<string, string>): ComposeValue {
  return Object.fromEntries(
    Object.entries(conditions).map(([service, condition]) => [service, { condition }]),
  );
}

/** The key that merges a fragment into a mapping: `{ [MERGE]: fragment, ...overrides }`. */
export const MERGE = '<<';

export type ComposeValue =
  | string
  | number
  | boolean
  | Fragment
  | Note
  | readonly ComposeValue[]
  | { readonly [key: string]: ComposeValue | undefined };

interface Entry {
  name: string;
  value: ComposeValue;
  comment?: string;
  /** The compose profiles it belongs to; every declared one: no `profiles` key. */
  profiles: string[];
}

export class ComposeFile {
  private readonly doc = new Document(null, { version: '1.1' });
  private readonly fragments: Pair[] = [];
  private readonly byName = new Map<string, Fragment>();
  private readonly services = new Map<string, Entry>();
  private readonly volumes = new Set<string>();
  /** Profiles in the order their sections appear, with the line that heads each. */
  private readonly sections = new Map<string, string>();

  /**
   * A section of the file for one profile: the services of that profile (the first it names) come
   * together under `heading`, after the services every profile shares.
   */
  section(profile: string, heading: string): void {
    this.sections.set(profile, heading);
  }

  /** An `x-<name>` extension field with anchor `&name`, for services to merge or refer to. */
  fragment(name: string, value: ComposeValue, comment?: string): Fragment {
    const fragment = this.inline(name, value);
    fragment.placed = true;
    this.fragments.push(this.pair(`x-${name}`, fragment.node, comment));
    this.byName.set(name, fragment);
    return fragment;
  }

  /** A fragment another plugin declared, e.g. the app image for a service that runs it. */
  fragmentRef(name: string): Fragment {
    const fragment = this.byName.get(name);
    if (!fragment) throw new Error(`compose: no fragment "${name}" (declared by a later plugin?)`);
    return fragment;
  }

  /** An anchored value that the first service using it holds (e.g. a profile's environment). */
  inline(name: string, value: ComposeValue): Fragment {
    const node = this.node(value);
    node.anchor = name;
    return new Fragment(name, node);
  }

  /**
   * Adds a service for `profiles`. The same name again (for another profile) must mean the same
   * definition: it is one container, in both profiles.
   */
  service(name: string, value: ComposeValue, profiles: string[], comment?: string): void {
    const existing = this.services.get(name);
    if (!existing) {
      this.services.set(name, { name, value, comment, profiles: [...profiles] });
      return;
    }
    if (JSON.stringify(plain(existing.value)) !== JSON.stringify(plain(value)))
      throw new Error(`compose: two different definitions of the service "${name}"`);
    for (const p of profiles) if (!existing.profiles.includes(p)) existing.profiles.push(p);
  }

  volume(name: string): void {
    this.volumes.add(name);
  }

  toString(header: string): string {
    const root = new YAMLMap();
    root.items.push(...this.fragments);
    const services = new YAMLMap();
    for (const [i, group] of this.groups().entries()) {
      group.entries.forEach((e, j) => {
        const heading = j === 0 && group.heading ? [group.heading, e.comment] : [e.comment];
        const value = this.scoped(e);
        const pair = this.pair(e.name, this.node(value), heading.filter(Boolean).join('\n'));
        (pair.key as Scalar).spaceBefore = i > 0 || j > 0;
        services.items.push(pair);
      });
    }
    root.items.push(new Pair(new Scalar('services'), services));
    if (this.volumes.size) {
      const volumes = new YAMLMap();
      for (const v of [...this.volumes].sort())
        volumes.items.push(new Pair(new Scalar(v), new Scalar(null)));
      root.items.push(new Pair(new Scalar('volumes'), volumes));
    }
    root.items.forEach((pair, i) => ((pair.key as Scalar).spaceBefore = i > 0));
    this.doc.contents = root;
    this.doc.commentBefore = header.replace(/^(?=.)/gm, ' ');
    return this.doc.toString({
      lineWidth: 0, // no folding: a long command stays on one line
      singleQuote: true,
      flowCollectionPadding: false,
      nullStr: '', // `volumes: { tls: }` as `tls:`
    });
  }

  /** The value with its `profiles` (after the merge key), unless it belongs to every profile. */
  private scoped(e: Entry): ComposeValue {
    if (this.everywhere(e)) return e.value;
    const order = [...this.sections.keys()];
    const profiles = [...e.profiles].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const [merge, rest] = splitMerge(e.value as Record<string, ComposeValue>);
    return { ...merge, profiles, ...rest };
  }

  private everywhere(e: Entry): boolean {
    return [...this.sections.keys()].every((p) => e.profiles.includes(p));
  }

  /** The shared services in the order added, then each profile's section in the order declared. */
  private groups(): Array<{ heading?: string; entries: Entry[] }> {
    const all = [...this.services.values()];
    const order = [...this.sections.keys()];
    const profileOf = (e: Entry) =>
      this.everywhere(e)
        ? undefined
        : [...e.profiles].sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
    return [
      { entries: all.filter((e) => profileOf(e) === undefined) },
      ...[...this.sections].map(([profile, heading]) => ({
        heading,
        entries: all.filter((e) => profileOf(e) === profile),
      })),
    ].filter((g) => g.entries.length > 0);
  }

  private pair(key: string, value: Node, comment?: string): Pair {
    const k = new Scalar(key);
    // yaml writes a comment line as "#" + the text: a leading space reads as "# text".
    if (comment) k.commentBefore = comment.replace(/^(?=.)/gm, ' ');
    return new Pair(k, value);
  }

  private node(value: ComposeValue): Node {
    if (value instanceof Note) return this.node(value.value);
    if (value instanceof Fragment) {
      if (value.placed) return this.doc.createAlias(value.node as never);
      value.placed = true;
      return value.node;
    }
    if (Array.isArray(value)) {
      const seq = new YAMLSeq();
      seq.items = value.map((v: ComposeValue) => this.node(v));
      // Short lists of plain values read best on one line: [naive], ['node', 'dist/main.js'].
      seq.flow = value.every((v) => typeof v !== 'object') && JSON.stringify(value).length < 60;
      return seq;
    }
    if (typeof value === 'object') {
      const map = new YAMLMap();
      for (const [key, v] of Object.entries(value)) {
        if (v === undefined) continue;
        map.items.push(this.pair(key, this.node(v), v instanceof Note ? v.comment : undefined));
      }
      return map;
    }
    const node = this.doc.createNode(value);
    return isNode(node) ? node : new Scalar(value);
  }
}

/** The value with fragments written out, to compare two definitions. */
function plain(value: ComposeValue): unknown {
  if (value instanceof Note) return plain(value.value);
  if (value instanceof Fragment) return `*${value.name}`;
  if (Array.isArray(value)) return value.map((v: ComposeValue) => plain(v));
  if (typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, v === undefined ? v : plain(v)]),
    );
  return value;
}

/** A mapping's merge key (kept first, where people look for it) and the rest. */
function splitMerge(value: Record<string, ComposeValue>) {
  const { [MERGE]: merge, ...rest } = value;
  return [merge === undefined ? {} : { [MERGE]: merge }, rest] as const;
}
