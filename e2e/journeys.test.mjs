// Real-browser journeys in Debian's headless Chromium, driven by playwright-core.
// Starts its own server on a fresh SQLite database with a small demo city.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.DANGJIAN_BIN || new URL('../target/debug/dangjian', import.meta.url).pathname;
const PORT = 18000 + Math.floor(Math.random() * 1000);
const BASE = `http://127.0.0.1:${PORT}`;
const DEMO_PW = 'Dangjian@2026';
let server, browser, adminPassword;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dj-e2e-'));
  server = spawn(BIN, ['--database-url', `sqlite://${join(dir, 'e2e.db')}`, 'serve', '--demo', '--demo-members', '3000', '--listen', `127.0.0.1:${PORT}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start: ' + out)), 120000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/one-time password:\s+(\S+)/);
      if (m) adminPassword = m[1];
      if (out.includes('listening on')) { clearTimeout(timer); resolve(); }
    });
    server.on('exit', (c) => reject(new Error('server exited ' + c + ': ' + out)));
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
});

async function login(page, user, pw) {
  await page.goto(BASE + '/login');
  await page.getByLabel('用户名').fill(user);
  await page.getByLabel('密码').fill(pw);
  await page.getByRole('button', { name: '登录' }).click();
}

test('the administrator must change the one-time password first', async () => {
  assert.ok(adminPassword, 'the one-time password was printed');
  const page = await browser.newPage();
  await login(page, 'admin', adminPassword);
  await page.waitForURL(BASE + '/password');
  await page.getByLabel('原密码').fill(adminPassword);
  await page.getByLabel('新密码', { exact: true }).fill('weak');
  await page.getByLabel('再次输入新密码').fill('weak');
  await page.getByRole('button', { name: '保存新密码' }).click();
  await page.getByText('密码至少8位').first().waitFor();
  await page.getByLabel('原密码').fill(adminPassword);
  await page.getByLabel('新密码', { exact: true }).fill('Dj#Secure2026');
  await page.getByLabel('再次输入新密码').fill('Dj#Secure2026');
  await page.getByRole('button', { name: '保存新密码' }).click();
  await page.waitForURL(/\/\?ok=password/);
  await page.getByRole('link', { name: '账号管理' }).click();
  await page.getByRole('cell', { name: 'county' }).waitFor();
  await page.close();
});

test('a county officer browses the tree, finds a member by pinyin initials and sees only the county', async () => {
  const page = await browser.newPage();
  await login(page, 'county', DEMO_PW);
  await page.waitForURL(BASE + '/');
  await page.getByText('有提醒的党支部').waitFor();
  // Tree: expand the first child with children through htmx.
  await page.getByRole('link', { name: '党组织', exact: true }).click();
  const twisty = page.locator('[data-twisty]').first();
  await twisty.click();
  await page.locator('.sub .tree li').first().waitFor();
  // Member list: search by the initials of the first member's name.
  await page.getByRole('link', { name: '党员', exact: true }).click();
  const firstName = (await page.locator('table.data tbody tr td a').first().textContent()).trim();
  // The API answers the browser's session with the same scope.
  const res = await page.request.get(BASE + '/api/v1/members?per_page=1');
  assert.equal(res.status(), 200);
  const outside = await page.request.get(BASE + '/api/v1/orgs/1');
  assert.equal(outside.status(), 403, 'the city committee lies outside the county');
  await page.getByLabel('姓名 / 拼音 / 首字母 / 证件号').fill(firstName);
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/q=/);
  assert.ok(await page.getByRole('link', { name: firstName }).first().isVisible());
  // Every listed member belongs to the county (scope is the subtree).
  const crumbs = await page.locator('.crumbs').textContent();
  assert.match(crumbs, /任城区/);
  // The member page masks the ID number.
  await page.getByRole('link', { name: firstName }).first().click();
  const id = await page.locator('dd code').first().textContent();
  assert.match(id, /^\d{4}\*{10}[\dX]{4}$/);
  await page.close();
});

test('a secretary on a phone: no horizontal scrolling, menu collapses', async () => {
  const page = await browser.newPage({ viewport: { width: 375, height: 740 } });
  await login(page, 'secretary', DEMO_PW);
  await page.waitForURL(BASE + '/');
  for (const path of ['/', '/members', '/orgs', '/transfers', '/me']) {
    await page.goto(BASE + path);
    const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(sw <= cw, `${path}: page scrolls horizontally (${sw} > ${cw})`);
  }
  assert.equal(await page.locator('#sidenav').isVisible(), false);
  await page.getByRole('button', { name: '菜单' }).click();
  assert.equal(await page.locator('#sidenav').isVisible(), true);
  await page.close();
});

test('a wrong password and an unknown user get the same answer', async () => {
  const page = await browser.newPage();
  await login(page, 'county', 'Wrong@2026');
  const a = await page.locator('.alert').textContent();
  await login(page, 'no-such-user', 'Wrong@2026');
  const b = await page.locator('.alert').textContent();
  assert.equal(a, b);
  await page.close();
});
