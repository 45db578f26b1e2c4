/**
 * A client as a browser tab is one: its own cookie jar, one keep-alive connection, its own source
 * address (nginx's ip_hash tells clients apart by it). The benchmark's load and the dashboard's
 * simulated clients are made of these.
 */
import { Agent, request } from 'node:http';

/** What a browser sends; the app stores it in the session, so it counts towards session size. */
export const BROWSER_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export interface Reply {
  /** 0 when the request failed without an HTTP answer (refused, reset, timed out). */
  status: number;
  servedBy: string;
  body: string;
  ms: number;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** Methods a browser may send again on its own (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export class VirtualClient {
  readonly cookies = new Map<string, string>();
  /**
   * Requests sent again once because the kept-alive connection they went out on was closed by
   * the server as they were sent (a reload of nginx closes its idle connections): browsers send
   * an idempotent request again at once, and so does this client. A second failure is a failure.
   */
  retried = 0;
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    readonly localAddress: string,
  ) {
    // One socket per client, reused: like a browser tab, and what keeps ip_hash's view stable.
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress });
  }

  /** Never rejects: a failed request is a Reply with status 0 and the error in `body`. */
  send(method: string, path: string, json?: unknown): Promise<Reply> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': BROWSER_USER_AGENT,
    };
    const payload = json === undefined ? undefined : JSON.stringify(json);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const started = performance.now();
    const attempt = (again: boolean) =>
      new Promise<Reply>((resolve) => {
        let settled = false;
        const fail = (error: NodeJS.ErrnoException) => {
          // The request and its response may both report one reset: answer it once.
          if (settled) return;
          settled = true;
          const closedUnderIt =
            req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
          if (again && closedUnderIt && IDEMPOTENT.has(method)) {
            this.retried++;
            resolve(attempt(false));
          } else {
            resolve({
              status: 0,
              servedBy: '',
              body: error.message,
              ms: performance.now() - started,
            });
          }
        };
        const req = request(
          `${this.baseUrl}${path}`,
          { method, headers, agent: this.agent, timeout: REQUEST_TIMEOUT_MS },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', fail);
            res.on('end', () => {
              this.storeCookies(res.headers['set-cookie']);
              const servedBy = res.headers['x-served-by'];
              resolve({
                status: res.statusCode ?? 0,
                servedBy: (Array.isArray(servedBy) ? servedBy.at(-1) : servedBy) ?? '',
                body: Buffer.concat(chunks).toString('utf8'),
                ms: performance.now() - started,
              });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.on('error', fail);
        req.end(payload);
      });
    return attempt(true);
  }

  /** Forgets the session: the next request is a stranger's. */
  clearCookies(): void {
    this.cookies.clear();
  }

  close(): void {
    this.agent.destroy();
  }

  private storeCookies(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const pair = line.split(';', 1)[0];
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

export const isAuthenticated = (reply: Reply): boolean =>
  reply.status === 200 && reply.body.includes('"authenticated":true');
