import type { HttpClient, HttpResponse } from './http-client.js';

/** The small reusable steps the specs are written in. Each returns the raw response. */
export const PASSWORD = 'correct horse battery staple';

export function register(
  c: HttpClient,
  username: string,
  password = PASSWORD,
): Promise<HttpResponse> {
  return c.post('/api/auth/register', { json: { username, password } });
}

export function login(c: HttpClient, username: string, password = PASSWORD): Promise<HttpResponse> {
  return c.post('/api/auth/login', { json: { username, password } });
}

export function logout(c: HttpClient): Promise<HttpResponse> {
  return c.post('/api/auth/logout');
}

export function whoami(c: HttpClient): Promise<HttpResponse> {
  return c.get('/api/whoami');
}

export async function isLoggedIn(c: HttpClient): Promise<boolean> {
  const res = await whoami(c);
  return res.status === 200 && (res.body as { authenticated?: boolean }).authenticated === true;
}

let counter = 0;
/** A username no other test uses (usernames are unique for the life of the database). */
export function uniqueName(prefix = 'user'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}
