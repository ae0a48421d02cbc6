// The live dashboard in a real browser: Debian's Chromium driven by playwright-core. Real MQTT
// clients connect and publish; the page must show their count and live rates over SSE, and a
// kick from its clients table must disconnect one. With DASHBOARD_SCREENSHOT=FILE (not SHOAL_: the broker refuses unknown SHOAL_ variables) the
// page is also saved as a screenshot (docs/dashboard.png is made so).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext as Browser, Page } from 'playwright-core';
import { connect, endAll, subscribe, uid, withTimeout, type MqttClient } from '../helpers/clients.ts';
import type { Broker } from '../helpers/broker.ts';
import { startAdminBroker } from './helpers.ts';
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser, where `document` is */

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium; .ci/run does when it can)`;
const TOKEN = 'dash-token';

describe('dashboard in headless Chromium', { skip }, () => {
  let b: Broker & { admin: string };
  let browser: Browser;
  let page: Page;
  let profile: string;
  const clients: MqttClient[] = [];
  let pump: NodeJS.Timeout | undefined;

  before(async () => {
    b = await startAdminBroker({ shards: 2, extraArgs: ['--http-token', TOKEN] });
    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(join(tmpdir(), 'shoal-chromium-'));
    // A fresh profile (--user-data-dir: playwright passes it for a persistent context).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1400, height: 1300 },
      timeout: 60_000,
    });
    page = browser.pages()[0] ?? await browser.newPage();
  });
  after(async () => {
    clearInterval(pump);
    await endAll(clients);
    // Bounded: a Chromium that does not answer must not hold the file open (playwright kills the
    // processes it launched when this one exits).
    await withTimeout(browser?.close() ?? Promise.resolve(), 20_000, 'Chromium close').catch((e: Error) => { console.error(e.message); });
    await b?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('without the token the page is refused; /?token= lets the browser in', async () => {
    const denied = await page.goto(`${b.admin}/`);
    assert.equal(denied?.status(), 401);
    const ok = await page.goto(`${b.admin}/?token=${TOKEN}`);
    assert.equal(ok?.status(), 200);
    assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
    await page.waitForSelector('#chart-connections .uplot', { timeout: 10_000 });
  });

  test('shows the connected clients and live message rates', async () => {
    const tag = uid('dash');
    const sub = await connect(b.url, { clientId: `${tag}-sub` });
    clients.push(sub);
    await subscribe(sub, `${tag}/#`);
    for (let i = 0; i < 4; i++) clients.push(await connect(b.url, { clientId: `${tag}-${i}`, version: 5 }));
    const pub = clients[1]!;
    pump = setInterval(() => { for (let k = 0; k < 20; k++) pub.publish(`${tag}/load`, 'x'.repeat(100)); }, 20);
    await page.waitForFunction(() => (globalThis as any).document.getElementById('stat-connections').textContent === '5', undefined, { timeout: 15_000 });
    await page.waitForFunction(() => Number((globalThis as any).document.getElementById('stat-msgs-in').textContent) > 100 && Number((globalThis as any).document.getElementById('stat-msgs-out').textContent) > 100, undefined, { timeout: 15_000 });
    await page.waitForSelector(`tr[data-client="${tag}-3"]`, { timeout: 10_000 });
    assert.equal(await page.locator('#clients-body tr').count(), 5);
    // Search narrows the table.
    await page.fill('#clients-search', `${tag}-sub`);
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#clients-body tr').length === 1, undefined, { timeout: 10_000 });
    await page.fill('#clients-search', tag);
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#clients-body tr').length === 5, undefined, { timeout: 10_000 });

    const file = process.env.DASHBOARD_SCREENSHOT;
    if (file) {
      await page.waitForTimeout(8000); // a few seconds of chart
      await page.screenshot({ path: file, fullPage: true });
    }
  });

  test('a kick from the clients table disconnects that client (DISCONNECT 0x98)', async () => {
    const victim = clients[4]!;
    const id = victim.options.clientId!;
    const reason = new Promise<number>((resolve) => victim.on('disconnect', (p) => resolve(p.reasonCode ?? -1)));
    await page.click(`tr[data-client="${id}"] button.kick`);
    assert.equal(await reason, 0x98);
    await page.waitForSelector(`tr[data-client="${id}"]`, { state: 'detached', timeout: 10_000 });
    await page.waitForFunction(() => (globalThis as any).document.getElementById('stat-connections').textContent === '4', undefined, { timeout: 10_000 });
  });

  test('the publish form publishes through the broker and the retained browser lists it', async () => {
    const tag = uid('form');
    await page.fill('#pub-topic', `${tag}/note`);
    await page.fill('#pub-payload', 'hello from the page');
    await page.selectOption('#pub-qos', '1');
    await page.check('#pub-retain');
    await page.click('#publish button[type=submit]');
    await page.waitForFunction(() => (globalThis as any).document.getElementById('pub-result').textContent === 'published', undefined, { timeout: 10_000 });
    await page.fill('#retained-search', tag);
    await page.waitForFunction((t) => (globalThis as any).document.getElementById('retained-body').textContent.includes(t), `${tag}/note`, { timeout: 10_000 });
  });
});
