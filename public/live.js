// Polls /api/whoami once a second through the load balancer and draws each answer:
// colour = replica that served it, ✕ = that replica did not recognise the session.
(() => {
  const strip = document.getElementById('live-strip');
  const summary = document.getElementById('live-summary');
  const toggle = document.getElementById('live-toggle');
  if (!strip || !summary || !toggle) return;
  const MAX_CELLS = 60;
  const tally = new Map(); // replica -> { known, unknown }
  let timer = null;

  function draw(replica, known, title) {
    const cell = document.createElement('span');
    cell.className = `live-cell ${replica ? replica.replace(/[^\w-]/g, '') : 'down'}${known ? '' : ' unknown'}`;
    cell.textContent = known ? '' : '✕';
    cell.title = title;
    strip.append(cell);
    while (strip.children.length > MAX_CELLS) strip.firstElementChild.remove();
  }

  function describe() {
    const parts = [...tally].map(([r, t]) => `${r}: ${t.known} recognised, ${t.unknown} not`);
    summary.textContent = parts.join(' · ') || 'no answers yet';
  }

  async function poll() {
    try {
      const res = await fetch('/api/whoami', {
        headers: { accept: 'application/json' },
        cache: 'no-store',
      });
      const body = await res.json();
      const replica = res.headers.get('x-served-by') || body.servedBy || '?';
      const known = res.ok && body.authenticated === true;
      const t = tally.get(replica) || { known: 0, unknown: 0 };
      t[known ? 'known' : 'unknown']++;
      tally.set(replica, t);
      draw(
        replica,
        known,
        `${new Date().toLocaleTimeString()} · ${replica} · ${known ? 'recognised' : res.status === 503 ? 'store down (503)' : 'not logged in here'}`,
      );
    } catch {
      draw(null, false, `${new Date().toLocaleTimeString()} · no answer`);
    }
    describe();
  }

  function start() {
    timer = setInterval(poll, 1000);
    poll();
    toggle.textContent = 'Pause';
  }
  toggle.addEventListener('click', () => {
    if (timer) {
      clearInterval(timer);
      timer = null;
      toggle.textContent = 'Resume';
    } else start();
  });
  start();
})();
