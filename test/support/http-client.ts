import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body (undefined when the body is not JSON). */
  body: unknown;
  servedBy: string | undefined;
  ms: number;
}

/** One request as it goes over the wire: the cookies and the body already in place. */
export interface RawRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
  timeoutMs: number;
}

/** What one request brought back, before the client reads cookies and JSON from it. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  setCookie: string[] | undefined;
  text: string;
}

export interface RequestOptions {
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** Raw body, sent as is (for hostile-input cases). */
  raw?: string | Buffer;
  timeoutMs?: number;
}

/**
 * A test client with its own cookie jar and, optionally, its own source address: binding to
 * 127.0.N.1 makes it a distinct client to nginx's ip_hash, which keys on the first three octets.
 */
export class HttpClient {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    readonly localAddress?: string,
    /** For https: the PEM certificate to trust (the cluster's self-signed one). */
    readonly ca?: string,
  ) {}

  get(path: string, o: RequestOptions = {}) {
    return this.send('GET', path, o);
  }
  post(path: string, o: RequestOptions = {}) {
    return this.send('POST', path, o);
  }
  patch(path: string, o: RequestOptions = {}) {
    return this.send('PATCH', path, o);
  }
  delete(path: string, o: RequestOptions = {}) {
    return this.send('DELETE', path, o);
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** A second client with a copy of this jar: the same browser, as it was at this moment. */
  clone(): HttpClient {
    const copy = new HttpClient(this.baseUrl, this.localAddress, this.ca);
    for (const [k, v] of this.cookies) copy.cookies.set(k, v);
    return copy;
  }

  async send(method: string, path: string, o: RequestOptions = {}): Promise<HttpResponse> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
    let payload: string | Buffer | undefined = o.raw;
    if (o.json !== undefined) {
      payload = JSON.stringify(o.json);
      headers['content-type'] ??= 'application/json';
    } else if (o.form) {
      payload = new URLSearchParams(o.form).toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      headers.accept = 'text/html';
    }
    if (this.cookies.size)
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const started = performance.now();
    const timeoutMs = o.timeoutMs ?? 10_000;
    const raw = await this.exchange({ method, url, headers, payload, timeoutMs });
    this.storeCookies(raw.setCookie);
    let body: unknown;
    try {
      body = JSON.parse(raw.text);
    } catch {
      body = undefined;
    }
    const servedBy = raw.headers['x-served-by'];
    return {
      status: raw.status,
      headers: raw.headers,
      text: raw.text,
      body,
      servedBy: Array.isArray(servedBy) ? servedBy.at(-1) : servedBy,
      ms: performance.now() - started,
    };
  }

  /** One request over the wire; a subclass may carry it another way (test/support/compose.ts). */
  protected exchange({
    method,
    url,
    headers,
    payload,
    timeoutMs,
  }: RawRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(
        url,
        { method, headers, localAddress: this.localAddress, timeout: timeoutMs, ca: this.ca },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              setCookie: res.headers['set-cookie'],
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private storeCookies(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}
