// Starts a short stompede run and a real Prometheus (Debian's binary, temporary storage,
// loopback only) scraping it with monitoring/prometheus.yml, then asks Prometheus's query API
// for every query of monitoring/grafana-dashboard.json and fails on any that returns no data.
// Both processes are always stopped.
// Usage: node check_dashboard.mjs STOMPEDE_BINARY
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const stompede = process.argv[2];
const work = mkdtempSync(join(tmpdir(), 'stompede-prometheus-'));
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function start(cmd, args, name) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  child.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  child.log = () => log;
  child.label = name;
  children.push(child);
  return child;
}

async function stopAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill(c.label === 'stompede' ? 'SIGINT' : 'SIGTERM');
  }
  for (const c of children) {
    const done = await Promise.race([c.exited, sleep(15000).then(() => 'timeout')]);
    if (done === 'timeout') c.kill('SIGKILL');
  }
  rmSync(work, { recursive: true, force: true });
}

async function query(promPort, expr, time) {
  const url = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}` +
              (time ? `&time=${time}` : '');
  const res = await fetch(url);
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error || res.status}`);
  return body.data.result;
}

let failed = false;
try {
  const metricsPort = await freePort();
  const promPort = await freePort();
  // The committed Prometheus config, pointed at this run's port and scraping every second.
  const config = readFileSync(join(root, 'monitoring', 'prometheus.yml'), 'utf8')
    .replaceAll('127.0.0.1:2112', `127.0.0.1:${metricsPort}`);
  if (config === readFileSync(join(root, 'monitoring', 'prometheus.yml'), 'utf8'))
    throw new Error('monitoring/prometheus.yml does not scrape 127.0.0.1:2112');
  writeFileSync(join(work, 'prometheus.yml'), config);
  const run = start(stompede, ['run', join(here, 'monitoring.toml'), '--quiet', '--out',
                               join(work, 'run'), '--set',
                               `output.prometheus="127.0.0.1:${metricsPort}"`], 'stompede');
  const prom = start('prometheus', [`--config.file=${join(work, 'prometheus.yml')}`,
                                    `--storage.tsdb.path=${join(work, 'data')}`,
                                    `--web.listen-address=127.0.0.1:${promPort}`,
                                    '--log.level=warn'], 'prometheus');
  // Wait (bounded) for ten scrapes of a live run.
  let scrapes = 0;
  for (let i = 0; i < 60 && scrapes < 10; i++) {
    await sleep(1000);
    if (run.exitCode !== null) throw new Error('stompede ended early:\n' + run.log());
    if (prom.exitCode !== null) throw new Error('prometheus ended:\n' + prom.log());
    try {
      const r = await query(promPort, 'count_over_time(stomp_load_test_target_users{job="stompede"}[5m])');
      scrapes = r.length ? Number(r[0].value[1]) : 0;
    } catch (e) { /* not ready yet */ }
  }
  if (scrapes < 10) throw new Error(`only ${scrapes} scrapes in 60 s`);
  const dash = JSON.parse(readFileSync(join(root, 'monitoring', 'grafana-dashboard.json'), 'utf8'));
  const vars = { '$__rate_interval': '10s', '$__range': '1m', '$job': 'stompede' };
  let checked = 0;
  for (const panel of dash.panels) {
    for (const t of panel.targets || []) {
      let expr = t.expr;
      for (const [k, v] of Object.entries(vars)) expr = expr.replaceAll(k, v);
      if (expr.includes('$')) { console.log(`FAIL ${panel.title}: unknown variable in ${expr}`); failed = true; continue; }
      const result = await query(promPort, expr);
      checked++;
      if (result.length === 0) {
        console.log(`FAIL ${panel.title} [${t.refId}]: no data for ${expr}`);
        failed = true;
      } else {
        console.log(`ok   ${panel.title} [${t.refId}]: ${result.length} series`);
      }
    }
  }
  if (checked < 10) { console.log(`FAIL only ${checked} queries in the dashboard`); failed = true; }
  console.log(`${checked} dashboard queries checked against Prometheus`);
} catch (e) {
  console.log('FAIL ' + e.message);
  failed = true;
} finally {
  await stopAll();
}
process.exit(failed ? 1 : 0);
