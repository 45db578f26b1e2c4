import { unlink } from 'node:fs/promises';
import net from 'node:net';
import type { Cluster, MemberStatus } from './cluster.js';
import {
  applyFault,
  checkFault,
  describeFault,
  type NetworkFault,
} from './faults/network-fault.js';

/**
 * A running `npm run cluster` listens on a Unix socket in its work dir, so that
 * `npm run cluster -- kill app-2` from another terminal acts on the processes it owns.
 */
export type ControlCommand =
  | { cmd: 'status' | 'roll' | 'stop' | 'heal' | 'failover' }
  | { cmd: 'kill' | 'restart' | 'stop-member' | 'partition'; member: string }
  /** The replica count as the user typed it: the cluster checks it (1..9, a whole number). */
  | { cmd: 'scale' | 'scale-store'; count: string | number }
  /** The network mode's faults (cluster/faults/network-fault.ts); `heal` ends them. */
  | { cmd: 'fault'; fault: NetworkFault };
export type ControlReply =
  { ok: true; status: MemberStatus[]; message?: string } | { ok: false; error: string };

/** One command is a line of JSON, far shorter than this. */
const MAX_COMMAND = 4096;

export async function serveControl(
  socketPath: string,
  cluster: Cluster,
  onStop: () => void,
): Promise<net.Server> {
  await unlink(socketPath).catch(() => undefined);
  const server = net.createServer((socket) => {
    let buffer = '';
    let answered = false;
    const answer = (reply: ControlReply) => {
      answered = true;
      socket.end(JSON.stringify(reply) + '\n');
    };
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      if (answered) return;
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0 && buffer.length <= MAX_COMMAND) return;
      if (newline < 0 || newline > MAX_COMMAND) {
        answer({ ok: false, error: 'command too long' });
        return;
      }
      answered = true;
      void handle(buffer.slice(0, newline), cluster, onStop).then(answer);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      resolve();
    });
  });
  return server;
}

async function handle(line: string, cluster: Cluster, onStop: () => void): Promise<ControlReply> {
  let command: ControlCommand;
  try {
    command = JSON.parse(line) as ControlCommand;
  } catch {
    return { ok: false, error: 'not a JSON command' };
  }
  return runCommand(command, cluster, onStop);
}

/** Runs one command on the cluster: the one code path of the CLI and the dashboard's buttons. */
export async function runCommand(
  command: ControlCommand,
  cluster: Cluster,
  onStop: () => void,
): Promise<ControlReply> {
  try {
    switch (command.cmd) {
      case 'status':
        return { ok: true, status: cluster.status() };
      case 'kill':
        await cluster.kill(command.member);
        return {
          ok: true,
          status: cluster.status(),
          message: `${command.member} killed (SIGKILL)`,
        };
      case 'stop-member':
        await cluster.stopMember(command.member);
        return {
          ok: true,
          status: cluster.status(),
          message: `${command.member} stopped (SIGTERM)`,
        };
      case 'restart':
        await cluster.restart(command.member);
        return {
          ok: true,
          status: cluster.status(),
          message: `${command.member} restarted and ready`,
        };
      case 'partition':
        await cluster.partition(command.member);
        return {
          ok: true,
          status: cluster.status(),
          message: `${command.member} cut off from its peers (still served by nginx); undo: heal`,
        };
      case 'heal':
        await cluster.heal();
        return {
          ok: true,
          status: cluster.status(),
          message: cluster.faults
            ? 'every network fault ended (partitions, cuts, loss, slow links)'
            : 'every peer link restored',
        };
      case 'fault': {
        if (!cluster.faults)
          return {
            ok: false,
            error: 'network faults need the network mode: start the cluster with --network netns',
          };
        const fault = checkFault(command.fault);
        await applyFault(cluster.faults, fault);
        return {
          ok: true,
          status: cluster.status(),
          message: `${describeFault(fault)}; undo: heal`,
        };
      }
      case 'failover': {
        const { killed, promoted } = await cluster.failStore();
        return {
          ok: true,
          status: cluster.status(),
          message: `${killed} killed (SIGKILL); ${promoted} serves in its place (restart ${killed} to bring it back)`,
        };
      }
      case 'scale':
      case 'scale-store': {
        const raw = String(command.count).trim();
        const count = /^\d+$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isInteger(count))
          return {
            ok: false,
            error:
              command.cmd === 'scale'
                ? `scale: "${raw}" is not a replica count (a whole number, 1-9)`
                : `scale-store: "${raw}" is not a shard count (a whole number)`,
          };
        const lines = await (command.cmd === 'scale'
          ? cluster.scale(count)
          : cluster.scaleStore(count));
        return { ok: true, status: cluster.status(), message: lines.join('\n') };
      }
      case 'roll':
        await cluster.rollingRestart();
        return { ok: true, status: cluster.status(), message: 'every replica restarted in turn' };
      case 'stop':
        setImmediate(onStop);
        return { ok: true, status: cluster.status(), message: 'stopping the cluster' };
      default:
        return {
          ok: false,
          error: `unknown command ${JSON.stringify((command as { cmd?: unknown }).cmd)}`,
        };
    }
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Sends one command to a running cluster. Rejects when none is listening on `socketPath`. */
export function sendControl(
  socketPath: string,
  command: ControlCommand,
  timeoutMs = 120_000,
): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer within ${timeoutMs} ms`)),
    );
    socket.on('connect', () => socket.write(JSON.stringify(command) + '\n'));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(data) as ControlReply);
      } catch {
        reject(new Error('the running cluster sent an unreadable answer'));
      }
    });
    socket.on('error', reject);
  });
}
