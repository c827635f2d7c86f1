// The web view in a real browser: a real amicopyd (the simulator, fast, two accounts from an
// accounts file, bearer tokens for tenants a and b) with --ui-listen, and Debian's headless
// Chromium driven by playwright-core.
//
//   node tests/browser/web-view.mjs BIN_DIR ARTIFACT_DIR
//
// BIN_DIR holds amicopyd and the amicopy CLI (a cargo target's debug/ or release/); screenshots
// go to ARTIFACT_DIR. playwright-core is loaded from $AMICOPY_BROWSER_MODULES (node_modules
// installed from this directory's package-lock.json; .ci/run keeps it in a cache dir), Chromium
// from $CHROMIUM or `chromium` on PATH.
//
// The scenario, as a person meets it:
//  1. tenant a signs in with its token and opens the distributions page;
//  2. a distribution to two Regions in two accounts is started with the CLI (over gRPC): its
//     row appears on the open page without a reload;
//  3. on the distribution's page every target's cell changes state without a reload until all
//     four are AVAILABLE and the whole is SUCCEEDED (a window marker set after loading survives,
//     and there was one navigation); screenshots of it running and done are kept;
//  4. a single copy is started with the CLI and cancelled from its page, after the confirmation
//     dialog, and the page shows it CANCELLED;
//  5. tenant b, signed in in another browser profile, sees none of it (404 for the pages).

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [binDir, artifactDir] = process.argv.slice(2).map((p) => p && resolve(p));
if (!binDir || !artifactDir) {
  console.error('usage: node tests/browser/web-view.mjs BIN_DIR ARTIFACT_DIR');
  process.exit(2);
}
const modules = process.env.AMICOPY_BROWSER_MODULES;
if (!modules) {
  console.error('AMICOPY_BROWSER_MODULES must name the node_modules with playwright-core (see .ci/run)');
  process.exit(2);
}
const { chromium } = createRequire(join(resolve(modules), 'noop.js'))('playwright-core');
const chromiumPath = process.env.CHROMIUM || execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();

const TOKEN_A = 'browser-token-of-tenant-a-5d1f';
const TOKEN_B = 'browser-token-of-tenant-b-93ce';
const ACCOUNTS = ['222233334444', '333344445555'];
const REGIONS = ['us-west-2', 'eu-west-1'];
const DEADLINE_MS = 90_000;

const work = mkdtempSync(join(tmpdir(), 'amicopy-browser-'));
mkdirSync(artifactDir, { recursive: true });
let server;
const browsers = [];
const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

function sha256(text) {
  return createHash('sha256').update(text).digest('hex');
}

function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.on('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

async function until(what, check, timeout = DEADLINE_MS) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cli(grpc, token, args) {
  const result = spawnSync(join(binDir, 'amicopy'), ['--endpoint', `http://${grpc}`, '--token', token, ...args, '--output', 'json'], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`amicopy ${args.join(' ')} failed (${result.status}): ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout.split('\n').find((line) => line.trim()));
}

async function launch(profile) {
  const context = await chromium.launchPersistentContext(join(work, profile), {
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
    timezoneId: 'Europe/Paris',
    locale: 'en-GB',
  });
  browsers.push(context);
  return context;
}

async function signIn(context, base, token) {
  const page = context.pages()[0] || (await context.newPage());
  await page.goto(`${base}/`);
  if (!page.url().includes('/sign-in')) throw new Error(`not sent to the sign-in page: ${page.url()}`);
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
  const html = await page.content();
  if (html.includes(token)) throw new Error('the token is in the page');
  return page;
}

async function main() {
  const [grpcPort, uiPort] = [await freePort(), await freePort()];
  const grpc = `127.0.0.1:${grpcPort}`;
  const base = `http://127.0.0.1:${uiPort}`;
  writeFileSync(join(work, 'accounts.json'), JSON.stringify({
    accounts: ACCOUNTS.map((id) => ({ account_id: id, role_arn: `arn:aws:iam::${id}:role/amicopy`, share_source: true })),
  }));
  writeFileSync(join(work, 'tokens.json'), JSON.stringify({
    tokens: [{ tenant: 'a', sha256: sha256(TOKEN_A) }, { tenant: 'b', sha256: sha256(TOKEN_B) }],
  }));
  // A copy takes 20 s: long enough to see every state and to cancel one through its page on a
  // busy machine (6 s was not, once), short enough for CI.
  server = spawn(join(binDir, 'amicopyd'), [
    '--listen', grpc, '--ui-listen', `127.0.0.1:${uiPort}`, '--data-dir', join(work, 'data'),
    '--accounts-file', join(work, 'accounts.json'), '--auth', 'token', '--auth-tokens-file', join(work, 'tokens.json'),
    '--sim-copy-seconds', '200', '--sim-time-factor', '10', '--tick-seconds', '0.2',
    '--track-min-interval-seconds', '0.2', '--track-max-interval-seconds', '1', '--watch-poll-seconds', '1',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'info,amicopy=debug' } });
  const serverLog = [];
  server.stderr.on('data', (chunk) => serverLog.push(chunk.toString()));
  server.on('exit', (code) => { if (code !== null && code !== 0) log(`amicopyd exited with ${code}`); });
  process.on('exit', () => {
    if (process.exitCode) console.error(`--- amicopyd log (tail)\n${serverLog.join('').split('\n').slice(-40).join('\n')}`);
  });
  await until('the web view', async () => {
    try { return (await fetch(`${base}/sign-in`)).ok; } catch { return false; }
  });
  log(`amicopyd serves gRPC on ${grpc} and the web view on ${base}`);

  // 1. Tenant a signs in and opens the distributions page.
  const a = await launch('profile-a');
  const list = await signIn(a, base, TOKEN_A);
  await list.getByRole('heading', { name: 'Distributions' }).waitFor();
  await list.evaluate(() => { window.amicopyMarker = 'list'; });
  await until('the list to be live', async () => (await list.textContent('#live-status')) === 'Live');
  log('tenant a signed in; the distributions page is live');

  // 2. A distribution started with the CLI appears on the open page.
  const created = cli(grpc, TOKEN_A, ['copy', '--source-image', 'ami-0a1b2c3d4e5f60001', '--source-region', 'us-east-1',
    ...REGIONS.flatMap((r) => ['--to', r]), ...ACCOUNTS.flatMap((x) => ['--account', x]), '--name', 'browser-{region}-{account}']);
  const id = created.distribution_id;
  if (!id) throw new Error(`the CLI did not create a distribution: ${JSON.stringify(created)}`);
  log(`distribution ${id} created through gRPC (the amicopy CLI)`);
  await list.locator(`#distribution-${id}`).waitFor({ timeout: DEADLINE_MS });
  if ((await list.evaluate(() => window.amicopyMarker)) !== 'list') throw new Error('the list page was reloaded');
  log('its row appeared on the open list without a reload');

  // 3. Its page: every cell changes state live until all are AVAILABLE.
  await list.getByRole('link', { name: id }).click();
  await list.waitForURL(`${base}/distributions/${id}`);
  const page = list;
  await page.evaluate(() => { window.amicopyMarker = 'distribution'; });
  const cells = ACCOUNTS.flatMap((account) => REGIONS.map((region) => `target-${account}-${region}`));
  const seen = Object.fromEntries(cells.map((cell) => [cell, new Set()]));
  let runningShot = false;
  await until('every target AVAILABLE', async () => {
    const states = await page.evaluate((ids) => ids.map((cell) => document.getElementById(cell)?.dataset.state), cells);
    states.forEach((state, i) => state && seen[cells[i]].add(state));
    if (!runningShot && states.includes('copying')) {
      // Once the copies are well under way, for the README.
      const progressed = await page.evaluate(() => [...document.querySelectorAll('td.cell progress')].some((bar) => bar.value >= 30));
      if (progressed) {
        await page.screenshot({ path: join(artifactDir, 'web-view-distribution-running.png'), fullPage: true });
        runningShot = true;
      }
    }
    return states.every((state) => state === 'available');
  });
  for (const cell of cells) {
    if (seen[cell].size < 2) throw new Error(`cell ${cell} never changed state on the page: ${[...seen[cell]]}`);
  }
  await until('the whole SUCCEEDED', async () => (await page.textContent('#distribution-summary')).includes('SUCCEEDED'));
  await until('the stream to end', async () => (await page.textContent('#live-status')).startsWith('Finished'));
  const marker = await page.evaluate(() => window.amicopyMarker);
  const navigations = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  if (marker !== 'distribution' || navigations !== 1) throw new Error(`the distribution page was reloaded (${marker}, ${navigations})`);
  const localTime = await page.locator('#distribution-summary time').first().textContent();
  if (localTime.endsWith('UTC')) throw new Error(`times are not shown in the viewer's zone: ${localTime}`);
  await page.screenshot({ path: join(artifactDir, 'web-view-distribution.png'), fullPage: true });
  log(`every cell went ${cells.map((c) => [...seen[c]].join('→')).join(', ')} without a reload; SUCCEEDED`);

  // The same page on a phone: nothing wider than the screen but the grid, which scrolls.
  const phone = await a.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${base}/distributions/${id}`);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the phone layout is ${overflow}px wider than the screen`);
  await phone.screenshot({ path: join(artifactDir, 'web-view-distribution-phone.png'), fullPage: true });
  await phone.close();

  // 4. A single copy cancelled from its page, after the confirmation.
  const job = cli(grpc, TOKEN_A, ['copy', '--source-image', 'ami-0a1b2c3d4e5f60001', '--source-region', 'us-east-1',
    '--to', 'us-west-2', '--name', 'browser-cancelled']).job_id;
  if (!job) throw new Error('the CLI did not create a job');
  await page.goto(`${base}/jobs/${job}`);
  await page.getByRole('button', { name: 'Cancel job' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  if (!(await dialog.textContent()).includes(`Cancel job ${job}?`)) throw new Error('the dialog does not ask about the job');
  // The cancel is a POST that answers with the job's page again: wait for that answer, not for
  // a URL the page already has.
  const cancelled = page.waitForResponse(
    (response) => response.request().method() === 'POST' && response.url().endsWith(`/jobs/${job}/cancel`),
  );
  // A live update replaces the job's actions, the cancel form among them, whenever an event
  // arrives; one that lands while the dialog is open must not swallow the confirmation.
  await page.evaluate(() => {
    const actions = document.getElementById('job-actions');
    actions.outerHTML = actions.outerHTML;
  });
  await dialog.getByRole('button', { name: 'Yes: Cancel job' }).click();
  const answer = await cancelled;
  if (answer.status() >= 400) throw new Error(`the cancel answered ${answer.status()}`);
  await page.waitForURL(`${base}/jobs/${job}`);
  await until('the job CANCELLED', async () => (await page.textContent('#job-summary')).includes('CANCELLED'));
  if (await page.getByRole('button', { name: 'Cancel job' }).count()) throw new Error('a cancelled job can still be cancelled');
  log(`job ${job} cancelled from its page after the confirmation`);

  // 5. Tenant b sees none of it.
  const b = await launch('profile-b');
  const other = await signIn(b, base, TOKEN_B);
  if ((await other.content()).includes(id)) throw new Error("tenant b's list shows tenant a's distribution");
  const theirs = await other.goto(`${base}/distributions/${id}`);
  if (theirs.status() !== 404) throw new Error(`tenant b got ${theirs.status()} for tenant a's distribution`);
  const theirJob = await other.goto(`${base}/jobs/${job}`);
  if (theirJob.status() !== 404) throw new Error(`tenant b got ${theirJob.status()} for tenant a's job`);
  await other.goto(`${base}/jobs`);
  if ((await other.content()).includes(job)) throw new Error("tenant b's jobs show tenant a's job");
  log("tenant b sees none of tenant a's distribution and jobs (404)");

  const shots = ['web-view-distribution.png', 'web-view-distribution-running.png', 'web-view-distribution-phone.png']
    .map((name) => join(artifactDir, name)).filter((path) => existsSync(path));
  log(`screenshots: ${shots.join(' ')}`);
}

try {
  await main();
  log('web view browser test passed');
} catch (error) {
  process.exitCode = 1;
  console.error(`web view browser test FAILED: ${error.stack || error}`);
} finally {
  for (const context of browsers) await context.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { server.once('exit', r); setTimeout(r, 10_000).unref(); });
  }
  log('stopped');
  rmSync(work, { recursive: true, force: true });
}
