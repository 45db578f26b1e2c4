import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** uid and primary gid of a system user, from `id` (so NSS sources other than /etc/passwd work). */
export async function lookupSystemUser(name: string): Promise<SystemUser> {
  try {
    const [uid, gid] = await Promise.all([
      run('id', ['-u', name]).then(({ stdout }) => Number(stdout.trim())),
      run('id', ['-g', name]).then(({ stdout }) => Number(stdout.trim())),
    ]);
    return { name, uid, gid };
  } catch (error) {
    throw new Error(`System user "${name}" not found (is its package installed?)`, {
      cause: error,
    });
  }
}

export async function chownRecursive(path: string, user: SystemUser): Promise<void> {
  await run('chown', ['-R', `${user.uid}:${user.gid}`, path]);
}

/** True when `user` may create files in `dir`, which needs search permission on every parent. */
export async function userCanWrite(user: SystemUser, dir: string): Promise<boolean> {
  try {
    await run('test', ['-w', dir], { uid: user.uid, gid: user.gid });
    return true;
  } catch {
    return false;
  }
}
