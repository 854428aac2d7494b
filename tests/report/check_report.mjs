// Opens a report.html in Debian's headless chromium (through playwright-core, no browser
// download) and checks that it draws: no console error, no page error, no request leaving the
// file, every load chart present with its lines, and a full-page screenshot that is not blank.
// Usage: node check_report.mjs REPORT.html SCREENSHOT.png
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [report, shot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'stompede-chromium-'));
const problems = [];
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) problems.push('request left the file: ' + r.url());
  });
  await page.goto(pathToFileURL(report).href, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.charts !== undefined, null,
                             { timeout: 10000 });
  const facts = await page.evaluate(() => {
    const charts = [...document.querySelectorAll('#charts-load figure.chart')].map((f) => ({
      title: f.querySelector('figcaption').textContent,
      lines: [...f.querySelectorAll('path.line')].filter((p) => p.getAttribute('d').length > 10)
               .length,
      height: f.querySelector('svg').getBoundingClientRect().height,
      shaded: f.querySelectorAll('rect.win-stage').length,
    }));
    return {
      drawn: Number(document.body.dataset.charts),
      charts,
      error: getComputedStyle(document.getElementById('report-error')).display,
      thresholds: document.querySelectorAll('#thresholds-table tr.fail').length,
      scenario: document.getElementById('scenario').textContent.length,
    };
  });
  const want = ['Users', 'Messages', 'Round trip (corrected)', 'Fan-out', 'Errors by type',
                'Reconnects and lost messages'];
  for (const title of want) {
    const c = facts.charts.find((x) => x.title.startsWith(title));
    if (!c) { problems.push('missing chart: ' + title); continue; }
    if (!(c.height > 100)) problems.push(title + ': not visible');
    if (c.shaded < 2) problems.push(title + ': stage windows not shaded');
  }
  for (const title of ['Users', 'Messages', 'Round trip (corrected)', 'Fan-out']) {
    const c = facts.charts.find((x) => x.title.startsWith(title));
    if (c && c.lines === 0) problems.push(title + ': no line drawn');
  }
  if (facts.drawn < want.length) problems.push('charts drawn: ' + facts.drawn);
  if (facts.error !== 'none') problems.push('the error banner is shown');
  if (facts.thresholds !== 1) problems.push('failed thresholds shown: ' + facts.thresholds);
  if (facts.scenario < 100) problems.push('scenario missing');
  await page.screenshot({ path: shot, fullPage: true });
  const size = statSync(shot).size;
  if (size < 30000) problems.push('screenshot looks blank (' + size + ' bytes)');
  console.log('report: ' + facts.drawn + ' charts, screenshot ' + size + ' bytes at ' + shot);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (problems.length) {
  for (const p of problems) console.log('FAIL ' + p);
  process.exit(1);
}
console.log('report OK');
