import type { Dashboard } from '../../cluster/dashboard/server.js';
import type { Snapshot } from '../../cluster/dashboard/snapshot.js';
import { defined } from '../../src/common/defined.js';

/** The next snapshot the dashboard streams (one server-sent event). */
export async function nextSnapshot(dashboard: Dashboard): Promise<Snapshot> {
  const { origin } = new URL(dashboard.url);
  const res = await fetch(`${origin}/events?token=${dashboard.token}`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.body) throw new Error('the event stream has no body');
  const reader = res.body.getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
      if (done) throw new Error('the event stream ended');
      text += new TextDecoder().decode(value);
      const frame = /^data: (.*)$/m.exec(text);
      if (frame && text.includes('\n\n', frame.index))
        return JSON.parse(defined(frame[1], 'the data of an event')) as Snapshot;
    }
  } finally {
    await reader.cancel();
  }
}

/** POSTs a command to the dashboard with its token, as its buttons do: the status and the reply. */
export async function dashboardCommand(
  dashboard: Dashboard,
  body: unknown,
): Promise<{ status: number; body: { ok?: boolean; message?: string; error?: string } }> {
  const res = await fetch(`${new URL(dashboard.url).origin}/api/command`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-dashboard-token': dashboard.token },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { message?: string; error?: string } };
}
