/**
 * A client as a browser tab is one: its own cookie jar, one keep-alive connection, its own source
 * address (nginx's ip_hash tells clients apart by it). The benchmark's load and the dashboard's
 * simulated clients are made of these.
 */
import { Client, errors } from 'undici';

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

/** Errors meaning the server closed the connection under the request (undici's, the socket's). */
const CLOSED_UNDER_IT = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * How long an idle connection is kept when the server does not say (undici's own default is 4 s;
 * a browser keeps one about as long as nginx's `keepalive_timeout` default, 75 s).
 */
const KEEP_ALIVE_MS = 75_000;

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v.at(-1) : v);

/**
 * Sent on undici (Node's own HTTP client project) rather than node:http: it costs about half the
 * CPU per request (measured here: ~50 µs against ~105 µs), and the load generator shares the
 * cores with the servers it measures.
 */
export class VirtualClient {
  readonly cookies = new Map<string, string>();
  /**
   * Requests sent again once because the kept-alive connection they went out on was closed by
   * the server as they were sent (a reload of nginx closes its idle connections): browsers send
   * an idempotent request again at once, and so does this client. A second failure is a failure.
   */
  retried = 0;
  private readonly client: Client;
  /** Answers on the current connection: a request sent when this is above 0 reused it. */
  private answeredOnConnection = 0;

  constructor(
    readonly baseUrl: string,
    readonly localAddress: string,
  ) {
    this.client = new Client(baseUrl, {
      localAddress,
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
      connectTimeout: REQUEST_TIMEOUT_MS,
    });
    this.client.on('connect', () => (this.answeredOnConnection = 0));
    this.client.on('disconnect', () => (this.answeredOnConnection = 0));
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
    const attempt = async (again: boolean): Promise<Reply> => {
      const reused = this.answeredOnConnection > 0;
      try {
        const res = await this.client.request({
          method,
          path,
          headers,
          body: payload,
        });
        const body = await res.body.text();
        this.answeredOnConnection++;
        const setCookie = res.headers['set-cookie'];
        this.storeCookies(typeof setCookie === 'string' ? [setCookie] : setCookie);
        return {
          status: res.statusCode,
          servedBy: first(res.headers['x-served-by']) ?? '',
          body,
          ms: performance.now() - started,
        };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (again && reused && CLOSED_UNDER_IT.has(code) && IDEMPOTENT.has(method)) {
          this.retried++;
          return attempt(false);
        }
        const timedOut =
          error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError;
        return {
          status: 0,
          servedBy: '',
          body: timedOut ? `${method} ${path} timed out` : (error as Error).message,
          ms: performance.now() - started,
        };
      }
    };
    return attempt(true);
  }

  /** Forgets the session: the next request is a stranger's. */
  clearCookies(): void {
    this.cookies.clear();
  }

  close(): void {
    void this.client.destroy().catch(() => undefined);
  }

  private storeCookies(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair = ''] = line.split(';', 1);
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
