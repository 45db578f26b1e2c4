/**
 * The network mode's faults as values: what the CLI, the dashboard and the tests inject (through
 * Cluster.faults), said once. Each is a kernel rule in the members' namespaces; `heal` ends them
 * all, slow links included.
 */
import type { NetworkFaults } from '../cluster.js';

export type NetworkFault =
  /** The members named cannot reach those on another side; members in no side keep every link. */
  | { kind: 'partition'; sides: string[][] }
  /** One way: what `from` sends to `to` is lost. */
  | { kind: 'cut'; from: string; to: string }
  /** Each packet `member` receives from another member is lost with this probability. */
  | { kind: 'loss'; member: string; probability: number }
  /** What `member` sends waits `ms` (± a tenth). */
  | { kind: 'slow'; member: string; ms: number };

export function applyFault(faults: NetworkFaults, f: NetworkFault): Promise<void> {
  switch (f.kind) {
    case 'partition':
      return faults.partition(f.sides);
    case 'cut':
      return faults.cut(f.from, f.to);
    case 'loss':
      return faults.lose(f.member, f.probability);
    case 'slow':
      return faults.delay(f.member, { ms: f.ms, jitterMs: f.ms / 10 });
  }
}

/** A line for the timeline and the CLI's answer. */
export function describeFault(f: NetworkFault): string {
  switch (f.kind) {
    case 'partition':
      return `partition: ${f.sides.map((side) => `{${side.join(', ')}}`).join(' | ')}`;
    case 'cut':
      return `one-way cut: what ${f.from} sends to ${f.to} is lost`;
    case 'loss':
      return `${f.member} loses ${Math.round(f.probability * 100)}% of what it receives`;
    case 'slow':
      return `${f.member}'s link is slow: ${f.ms} ms each way`;
  }
}

export class FaultError extends Error {}

const USAGE =
  'a fault is one of: partition <a,b> <c,d> ... | cut <from> <to> | lose <member> <percent, 1-100> | slow <member> <ms, 1-10000>';

/** The CLI's words (`partition app-1,redis-1 app-2,app-3`, `lose app-2 20`, ...) as a fault. */
export function parseFault(words: readonly string[]): NetworkFault {
  const [kind, ...rest] = words;
  const [a, b] = rest;
  const pair = rest.length === 2;
  const number = (text: string | undefined) => (text === undefined ? NaN : Number(text));
  if (kind === 'partition') return checkFault({ kind, sides: rest.map((s) => s.split(',')) });
  if (kind === 'cut' && pair) return checkFault({ kind, from: a, to: b });
  if (kind === 'lose' && pair)
    return checkFault({ kind: 'loss', member: a, probability: number(b) / 100 });
  if (kind === 'slow' && pair) return checkFault({ kind, member: a, ms: number(b) });
  throw new FaultError(USAGE);
}

/** A fault that came as JSON (the dashboard, the control socket), checked field by field. */
export function checkFault(value: unknown): NetworkFault {
  const f = (value ?? {}) as Record<string, unknown>;
  const isName = (v: unknown): v is string => typeof v === 'string' && /^[\w-]{1,64}$/.test(v);
  const isNumber = (v: unknown, max: number): v is number =>
    typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= max;
  switch (f.kind) {
    case 'partition':
      if (
        Array.isArray(f.sides) &&
        f.sides.length >= 2 &&
        f.sides.every((side) => Array.isArray(side) && side.length > 0 && side.every(isName))
      )
        return { kind: 'partition', sides: f.sides as string[][] };
      break;
    case 'cut':
      if (isName(f.from) && isName(f.to)) return { kind: 'cut', from: f.from, to: f.to };
      break;
    case 'loss':
      if (isName(f.member) && isNumber(f.probability, 1))
        return { kind: 'loss', member: f.member, probability: f.probability };
      break;
    case 'slow':
      if (isName(f.member) && isNumber(f.ms, 10_000))
        return { kind: 'slow', member: f.member, ms: f.ms };
      break;
  }
  throw new FaultError(USAGE);
}
