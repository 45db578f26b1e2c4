// The dashboard page: renders the snapshot the runner streams once a second; buttons post the
// same commands as the CLI. Plain DOM and SVG, no build step.
const token = new URLSearchParams(location.search).get('token');
const $ = (id) => document.getElementById(id);
const COLOURS = ['#2d5fa8', '#c76d1a', '#2f8a5b', '#8a3fa0', '#b3261e', '#1f8a99'];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') node.addEventListener('click', v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-dashboard-token': token },
    body: JSON.stringify(body),
  });
  const reply = await res.json();
  $('message').textContent = reply.message ?? reply.error ?? '';
  return reply;
}

/** The replica count now, from the latest snapshot: + and − ask for one more or one less. */
let replicaCount = 0;

async function act(button, body) {
  button.disabled = true;
  try {
    await post('/api/command', body);
  } finally {
    button.disabled = false;
  }
}

const uptime = (s) => (s === null ? '–' : s < 120 ? `${s} s` : `${Math.floor(s / 60)} min`);

function renderMembers(s) {
  const body = $('members').tBodies[0];
  body.replaceChildren(
    ...s.members.map((m) => {
      const buttons = el('td');
      const button = (label, cmd, cls) =>
        el(
          'button',
          {
            type: 'button',
            class: cls,
            'data-cmd': cmd,
            'data-member': m.name,
            onclick: (e) => act(e.target, { cmd, member: m.name }),
          },
          label,
        );
      if (m.running)
        buttons.append(
          button('kill', 'kill', 'danger'),
          button('stop', 'stop-member', 'secondary'),
        );
      buttons.append(button(m.running ? 'restart' : 'start', 'restart', 'secondary'));
      if (s.profile.network)
        buttons.append(
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              'data-cmd': 'isolate',
              'data-member': m.name,
              onclick: (e) =>
                act(e.target, {
                  cmd: 'fault',
                  fault: {
                    kind: 'partition',
                    sides: [[m.name], s.members.map((x) => x.name).filter((n) => n !== m.name)],
                  },
                }),
            },
            'isolate',
          ),
        );
      else if (s.profile.peerChannel && m.kind === 'replica')
        buttons.append(button('partition', 'partition', 'secondary'));
      const role = m.name === s.primary ? `${m.kind} · primary` : m.kind;
      return el(
        'tr',
        { 'data-member': m.name },
        el('td', {}, m.name),
        el('td', {}, role),
        el('td', { class: m.running ? 'up' : 'down' }, m.running ? 'up' : 'DOWN'),
        el('td', {}, m.pid ? String(m.pid) : '–'),
        el('td', {}, uptime(m.uptimeS)),
        buttons,
      );
    }),
  );
  $('heal').hidden = !s.profile.peerChannel && !s.profile.network;
  $('heal').textContent = s.profile.network ? 'Heal the network' : 'Heal the peer links';
  $('network').hidden = !s.profile.network;
}

function renderTraffic(traffic) {
  const chart = $('traffic');
  const entries = Object.entries(traffic);
  const max = Math.max(1, ...entries.map(([, t]) => t.rps));
  const width = chart.clientWidth || 400;
  const bar = 28;
  chart.setAttribute('height', String(entries.length * (bar + 8) + 4));
  chart.replaceChildren(
    ...entries.flatMap(([replica, t], i) => {
      const y = i * (bar + 8) + 2;
      const w = Math.max(1, ((width - 190) * t.rps) / max);
      return [
        svg('text', { x: 0, y: y + bar / 2 + 4 }, replica),
        svg('rect', { x: 60, y, width: w, height: bar, rx: 4, fill: COLOURS[i % COLOURS.length] }),
        svg(
          'text',
          { x: 66 + w, y: y + bar / 2 + 4, 'data-replica': replica },
          `${t.rps.toFixed(1)} req/s · ${Math.round(t.share * 100)} %`,
        ),
      ];
    }),
  );
}

function renderSessions(s) {
  const rows = [];
  for (const [replica, held] of Object.entries(s.held)) {
    const sessions =
      typeof held === 'string'
        ? held
        : held === null
          ? 'none (in the store)'
          : Object.entries(held)
              .map(([role, n]) => `${n} ${role}`)
              .join(', ');
    rows.push(
      el(
        'tr',
        { 'data-replica': replica },
        el('td', {}, replica),
        el('td', { class: 'count' }, sessions),
        el('td', { class: 'count sim' }, String(s.load.byReplica[replica] ?? 0)),
      ),
    );
  }
  for (const store of s.stores) {
    const memory =
      store.usedBytes === null ? '' : `, ${(store.usedBytes / 1048576).toFixed(1)} MiB used`;
    // Where the keys are: per memcached node or Cluster master (a scale-store moves them).
    const where = store.perServer
      ? ` (${Object.entries(store.perServer)
          .map(([server, n]) => `${server} ${n}`)
          .join(', ')})`
      : '';
    rows.push(
      el(
        'tr',
        {},
        el('td', {}, store.label),
        el(
          'td',
          { class: 'count' },
          `${store.keys ?? 'no answer'} ${store.keys === 1 ? 'key' : 'keys'}${where}${memory}`,
        ),
        el('td', {}, ''),
      ),
    );
  }
  $('sessions').tBodies[0].replaceChildren(...rows);
}

function renderLoad(load) {
  $('sim-state').textContent = load.running
    ? `${load.clients} clients, ${load.loggedIn} logged in; ${load.requests} requests, ${load.failed} failed; ${load.loggedOut} logouts seen`
    : 'not running';
}

function renderTimeline(events) {
  $('timeline').tBodies[0].replaceChildren(
    ...[...events]
      .reverse()
      .map((e) =>
        el(
          'tr',
          { 'data-event': e.id, 'data-member': e.member },
          el('td', {}, new Date(e.at).toLocaleTimeString()),
          el('td', {}, e.member),
          el('td', {}, e.what),
          el(
            'td',
            { class: e.loggedOut ? 'count lost' : 'count', 'data-logged-out': e.loggedOut },
            String(e.loggedOut),
          ),
        ),
      ),
  );
}

const events = new EventSource(`/events?token=${encodeURIComponent(token)}`);
events.onopen = () => ($('connection').textContent = 'live');
events.onerror = () => ($('connection').textContent = 'connection lost: retrying…');
events.onmessage = (message) => {
  const s = JSON.parse(message.data);
  $('profile-name').textContent = s.profile.name;
  $('profile-shows').textContent =
    `${s.profile.shows} — routing: ${s.profile.routing}, sessions: ${s.profile.sessions}`;
  renderMembers(s);
  replicaCount = s.members.filter((m) => m.kind === 'replica').length;
  $('replica-count').textContent = String(replicaCount);
  renderTraffic(s.traffic);
  renderSessions(s);
  renderLoad(s.load);
  renderTimeline(s.events);
  document.body.dataset.updated = String(s.at);
};

$('roll').addEventListener('click', (e) => act(e.target, { cmd: 'roll' }));
const scaleBy = (e, step) => act(e.target, { cmd: 'scale', count: replicaCount + step });
$('scale-out').addEventListener('click', (e) => scaleBy(e, +1));
$('scale-in').addEventListener('click', (e) => scaleBy(e, -1));
$('heal').addEventListener('click', (e) => act(e.target, { cmd: 'heal' }));
$('fault-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('fault-inject'), { cmd: 'fault', words: $('fault-words').value });
});
$('sim-start').addEventListener('click', () =>
  post('/api/load', { action: 'start', clients: Number($('sim-count').value) }),
);
$('sim-stop').addEventListener('click', () => post('/api/load', { action: 'stop' }));
