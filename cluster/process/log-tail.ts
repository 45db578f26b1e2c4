import { open } from 'node:fs/promises';

// Only the end of a log explains a crash; don't read a large log whole to find it.
const TAIL_BYTES = 64 * 1024;

/** The last `lines` lines of a log file, or a note saying why there are none. */
export async function readLogTail(path: string, lines = 20): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return `(no log file at ${path})`;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const tail = buffer.toString('utf8').trimEnd().split('\n').slice(-lines);
    return tail.join('\n') || '(log file is empty)';
  } finally {
    await handle.close();
  }
}
