import { open, stat } from 'node:fs/promises';

/** Most bytes read from the log per tick: a flood is sampled, never loaded whole. */
const MAX_READ = 4 * 1024 * 1024;
/** How many seconds the rate is averaged over. */
const WINDOW_S = 2;

/**
 * Requests per replica, from nginx's access log (the runner's log format ends each line with
 * `upstream=<addr>`; after a failover nginx lists every address it tried, the last one answered).
 * Counts what every client sent: browsers, curl, the simulated clients.
 */
export class AccessLogTraffic {
  private offset = -1;
  private readonly ticks: Array<Map<string, number>> = [];

  constructor(private readonly logFile: string) {}

  /** Reads what nginx appended since the last call; call once a second. */
  async tick(): Promise<void> {
    const counts = new Map<string, number>();
    try {
      const { size } = await stat(this.logFile);
      if (this.offset < 0 || size < this.offset) this.offset = size; // start, or rotated
      const length = Math.min(size - this.offset, MAX_READ);
      if (length > 0) {
        const file = await open(this.logFile, 'r');
        try {
          const { buffer } = await file.read(Buffer.alloc(length), 0, length, this.offset);
          const text = buffer.toString('utf8');
          const complete = text.lastIndexOf('\n') + 1; // a half-written line waits for next time
          this.offset += Buffer.byteLength(text.slice(0, complete));
          for (const [, tried = ''] of text.slice(0, complete).matchAll(/upstream=([^\n]*)$/gm)) {
            const addr = tried.slice(tried.lastIndexOf(',') + 1).trim();
            counts.set(addr, (counts.get(addr) ?? 0) + 1);
          }
        } finally {
          await file.close();
        }
      }
    } catch {
      // No log yet (nginx starting): nothing to count.
    }
    this.ticks.push(counts);
    if (this.ticks.length > WINDOW_S) this.ticks.shift();
  }

  /** Requests per second per upstream address, over the last few ticks. */
  rates(): Map<string, number> {
    const sum = new Map<string, number>();
    for (const t of this.ticks) for (const [k, v] of t) sum.set(k, (sum.get(k) ?? 0) + v);
    const n = Math.max(1, this.ticks.length);
    return new Map([...sum].map(([k, v]) => [k, v / n]));
  }
}
