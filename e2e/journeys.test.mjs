// Real-browser journeys in Debian's headless Chromium, driven by playwright-core.
// Starts its own server on a fresh SQLite database with a small demo city. Every page a
// journey opens is watched for console errors and CSP violations; screenshots of the main
// pages go to e2e/artifacts/ (kept by CI as test artifacts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BIN = process.env.DANGJIAN_BIN || new URL('../target/debug/dangjian', import.meta.url).pathname;
const PORT = 18000 + Math.floor(Math.random() * 1000);
const BASE = `http://127.0.0.1:${PORT}`;
const DEMO_PW = 'Dangjian@2026';
const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const PHONE = { width: 375, height: 740 };
let server, browser, adminPassword, workDir;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), 'dj-e2e-'));
  server = spawn(BIN, ['--database-url', `sqlite://${join(workDir, 'e2e.db')}`, 'serve', '--demo', '--demo-members', '3000', '--listen', `127.0.0.1:${PORT}`], { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A new page whose console errors, uncaught exceptions and CSP violations are collected. */
async function open(opts = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', acceptDownloads: true, ...opts });
  const page = await context.newPage();
  page.problems = [];
  // Refusals the journeys provoke on purpose (401, 403, 422 documents) are not problems.
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/Failed to load resource: the server responded with a status of (401|403|404|422)/.test(m.text())) return;
    page.problems.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`${page.url()}: ${e}`));
  page.done = async () => {
    const p = page.problems.slice();
    await context.close();
    assert.deepEqual(p, [], 'console errors or CSP violations');
  };
  return page;
}

async function login(page, user, pw) {
  await page.goto(BASE + '/login');
  await page.getByLabel('用户名').fill(user);
  await page.getByLabel('密码').fill(pw);
  await page.getByRole('button', { name: '登录' }).click();
}

/** Logs a demo account in and waits for the home page. */
async function signIn(page, user) {
  await login(page, user, DEMO_PW);
  await page.waitForURL(BASE + '/');
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function noHorizontalScroll(page, what) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `${what}: the page scrolls horizontally (${sw} > ${cw})`);
}

/** The texts of an xlsx file's shared strings and inline strings (a minimal zip reader). */
function xlsxTexts(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, 'a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  let xml = '';
  for (let i = 0; i < count; i++) {
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    if (name.startsWith('xl/sharedStrings') || name.startsWith('xl/worksheets/')) {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + size);
      xml += (method === 8 ? inflateRawSync(data) : data).toString('utf8');
    }
    at += 46 + nameLen + extraLen + commentLen;
  }
  return [...xml.matchAll(/<t[^>]*>([^<]*)<\/t>/g)].map((m) => m[1]);
}

/** The current RFC 6238 code (HMAC-SHA1, 30 s, 6 digits) of a base32 secret. */
function totp(base32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const h = createHmac('sha1', key).update(step).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/** A valid GB 11643 ID number for a birth date (check digit computed). */
function idNumber(region, ymd, seq) {
  const body = `${region}${ymd}${String(seq).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((s, c, i) => s + Number(c) * w[i], 0);
  return body + '10X98765432'[sum % 11];
}

test('the administrator must change the one-time password first', async () => {
  assert.ok(adminPassword, 'the one-time password was printed');
  const page = await open();
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
  // an administrator enrols a second factor next, before anything else
  await page.waitForURL(/\/me\/totp/);
  await page.getByRole('heading', { name: /启用动态口令/ }).waitFor();
  const secret = (await page.locator('p.secret code').textContent()).replace(/\s+/g, '');
  await page.getByLabel('6位动态口令').fill(totp(secret));
  await page.getByRole('button', { name: '确认启用' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/me/totp'));
  await page.getByRole('link', { name: '账号管理' }).click();
  await page.getByRole('cell', { name: 'county', exact: true }).waitFor();
  await shot(page, 'accounts');
  await page.done();
});

test('the dashboard draws its charts for the account subtree', async () => {
  for (const [name, viewport] of [['desktop', { width: 1366, height: 900 }], ['phone', PHONE]]) {
    const page = await open({ viewport });
    await signIn(page, 'city');
    await page.locator('.echart.drawn canvas').first().waitFor();
    assert.equal(await page.locator('.echart.drawn canvas').count(), await page.locator('[data-chart]').count());
    assert.ok(await page.locator('[data-chart]').count() >= 6);
    // The numbers behind each chart are in a table for screen readers.
    assert.ok(await page.locator('.chart-table th', { hasText: '正式党员' }).count() >= 1);
    // every panel is live: the points ranking took the place reserved for it
    assert.equal(await page.locator('[data-reserved]').count(), 0);
    await page.getByRole('heading', { name: /积分排行/ }).waitFor();
    await noHorizontalScroll(page, `dashboard (${name})`);
    await shot(page, `dashboard-${name}`);
    await page.done();
  }
});

test('a county officer browses the tree, finds a member by pinyin initials and sees only the county', async () => {
  const page = await open({ viewport: { width: 1366, height: 900 } });
  await signIn(page, 'county');
  await page.getByText('有提醒的党支部').first().waitFor();
  // Tree: expand the first child with children through htmx.
  await page.getByRole('link', { name: '党组织', exact: true }).click();
  const twisty = page.locator('[data-twisty]').first();
  await twisty.click();
  await page.locator('.sub .tree li').first().waitFor();
  await shot(page, 'orgs');
  // Member list: search by the initials of the first member's name.
  await page.getByRole('link', { name: '党员', exact: true }).click();
  const firstName = (await page.locator('table.data tbody tr td a').first().textContent()).trim();
  // The API answers the browser's session with the same scope.
  const res = await page.request.get(BASE + '/api/v1/members?per_page=1');
  assert.equal(res.status(), 200);
  const outside = await page.request.get(BASE + '/api/v1/orgs/1');
  assert.equal(outside.status(), 404, 'the city committee lies outside the county (and is not said to exist)');
  await page.getByLabel('姓名 / 拼音 / 首字母 / 完整证件号或手机号').fill(firstName);
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/q=/);
  assert.ok(await page.getByRole('link', { name: firstName }).first().isVisible());
  const crumbs = await page.locator('.crumbs').textContent();
  assert.match(crumbs, /任城区/);
  // The member page masks the ID number.
  await page.getByRole('link', { name: firstName }).first().click();
  const id = await page.locator('dd code').first().textContent();
  // first and last character only: the region and birth date shown beside it cannot complete it
  assert.match(id, /^\d\*{16}[\dX]$/);
  await shot(page, 'member');
  await page.done();
});

test('a county officer narrows the ledger to one township with the organisation picker', async () => {
  const page = await open({ viewport: { width: 1366, height: 900 } });
  await signIn(page, 'county');
  await page.goto(BASE + '/rectify?status=all');
  const before = (await page.locator('h1').textContent()).trim();
  // typing searches the county's organisations (an IME's text arrives as input events)
  await page.locator('.scope-pick input[type=search]').fill('街道');
  await page.waitForFunction(() => document.querySelectorAll('#scope-org option').length > 1);
  const option = page.locator('#scope-org option').first();
  // an option reads "name（kind）"
  const [value, name] = [await option.getAttribute('value'), (await option.textContent()).trim().replace(/（[^（）]*）$/, '')];
  await page.locator('#scope-org').selectOption(value);
  await page.locator('.scope-pick').getByRole('button', { name: '切换' }).click();
  await page.waitForURL(new RegExp(`org_id=${value}`));
  const after = (await page.locator('h1').textContent()).trim();
  assert.notEqual(after, before);
  assert.ok(after.includes(name), `${after} names ${name}`);
  await noHorizontalScroll(page, 'ledger with the picker');
  await page.done();
});

test('the rules form on a phone: a county sets its star bands in a table, by name, and publishes them', async () => {
  const page = await open({ viewport: PHONE });
  await signIn(page, 'county');
  await page.goto(BASE + '/rules');
  const card = page.locator('section.card').filter({ has: page.getByRole('heading', { name: '星级党支部评定规则' }) });
  await card.locator('summary', { hasText: '为本组织发布新版本' }).click();
  // a structured value is a table of named cells, not JSON
  assert.equal(await card.locator('textarea').count(), 0);
  await card.getByLabel('星级分数段（五星至二星） 1 最低分').fill('91');
  await card.getByRole('button', { name: '发布' }).click();
  // first what the new version changes, in words; then it is published
  await page.getByRole('heading', { name: /确认发布/ }).waitFor();
  assert.match(await page.locator('table').textContent(), /星级分数段（五星至二星）：星级5[\s\S]*最低分：90[\s\S]*最低分：91/);
  await noHorizontalScroll(page, 'rules preview');
  await page.getByRole('button', { name: '确认发布' }).click();
  await page.waitForURL(/ok=published/);
  const after = page.locator('section.card').filter({ has: page.getByRole('heading', { name: '星级党支部评定规则' }) });
  assert.match(await after.locator('p.muted').first().textContent(), /当前生效：第 \d+ 版/);
  const bands = after.locator('dt', { hasText: '星级分数段' }).locator('xpath=following-sibling::dd[1]');
  await bands.locator('summary').click();
  assert.ok(await bands.locator('td', { hasText: /^91$/ }).first().isVisible());
  await noHorizontalScroll(page, 'rules');
  await page.done();
});

test('filters live in the URL: paging, sorting and the back button keep them', async () => {
  const page = await open({ viewport: { width: 1366, height: 900 } });
  await signIn(page, 'county');
  await page.goto(BASE + '/members');
  await page.getByLabel('性别').selectOption('F');
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/gender=F/);
  const total1 = await page.locator('.pager span').textContent();
  await page.getByRole('link', { name: '下一页' }).click();
  await page.waitForURL(/gender=F.*page=2|page=2.*gender=F/);
  assert.match(await page.locator('.pager span').textContent(), /第 2 \//);
  // Sorting by a column header keeps the filter; a second click reverses the order.
  await page.getByRole('link', { name: '出生年月' }).click();
  await page.waitForURL(/sort=birth_month/);
  assert.match(page.url(), /gender=F/);
  const asc = await page.locator('td[data-th="出生年月"]').allTextContents();
  assert.deepEqual(asc, [...asc].sort());
  await page.getByRole('link', { name: '出生年月' }).click();
  await page.waitForURL(/dir=desc/);
  const desc = await page.locator('td[data-th="出生年月"]').allTextContents();
  assert.deepEqual(desc, [...desc].sort().reverse());
  for (const g of await page.locator('td[data-th="性别"]').allTextContents()) assert.equal(g.trim(), '女');
  // Back twice: page 2 of the filtered list again, then page 1, filter still chosen.
  await page.goBack();
  await page.goBack();
  await page.waitForURL(/page=2/);
  await page.goBack();
  await page.waitForURL((u) => u.searchParams.get('gender') === 'F' && !u.searchParams.get('page'));
  assert.equal(await page.getByLabel('性别').inputValue(), 'F');
  assert.equal(await page.locator('.pager span').textContent(), total1);
  // The tree beside the list narrows it to one organisation.
  const node = page.locator('.tree-pane ul.tree > li > a').first();
  const nodeName = (await node.textContent()).trim();
  await node.click();
  await page.waitForURL(/org_id=/);
  assert.match(await page.locator('.crumbs').textContent(), new RegExp(nodeName));
  await page.done();
});

test('a secretary creates a member, corrects a field error first, then edits the record', async () => {
  const page = await open({ viewport: { width: 1366, height: 900 } });
  await signIn(page, 'secretary');
  await page.goto(BASE + '/members/new');
  const good = idNumber('370811', '19920315', 417);
  const bad = good.slice(0, 17) + (good[17] === '0' ? '1' : '0');
  await page.getByLabel('姓名').fill('郑晓岚');
  await page.getByLabel('身份证号码').fill(bad);
  await page.getByLabel('民族').fill('汉族');
  await page.getByLabel('学历').selectOption('大学本科');
  await page.getByLabel('党员状态').selectOption('full');
  await page.getByLabel('入党日期').fill('2015-07-01');
  await page.getByLabel('转正日期').fill('2016-07-01');
  await page.getByRole('button', { name: '保存' }).click();
  // The refusal names the field, next to it, and keeps what was typed.
  await page.locator('#err-id_number').waitFor();
  assert.match(await page.locator('#err-id_number').textContent(), /校验/);
  assert.equal(await page.getByLabel('身份证号码').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'id_number', 'focus on the first field to fix');
  assert.equal(await page.getByLabel('姓名').inputValue(), '郑晓岚');
  await shot(page, 'member-form-error');
  await page.getByLabel('身份证号码').fill(good);
  await page.getByRole('button', { name: '保存' }).click();
  await page.waitForURL(/\/members\/\d+\?ok=created/);
  await page.getByRole('status').filter({ hasText: '已创建' }).waitFor();
  await page.getByRole('link', { name: '编辑', exact: true }).click();
  await page.getByLabel('工作单位及职务').fill('宁平屯村村委会 会计');
  await page.getByRole('button', { name: '保存' }).click();
  await page.waitForURL(/\/members\/\d+\?ok=saved/);
  await page.getByText('宁平屯村村委会 会计').first().waitFor();
  // The change is on the record's history.
  await page.getByText('修改党员信息').first().waitFor();
  await page.getByText(/工作单位及职务：.*→ 宁平屯村村委会 会计/).first().waitFor();
  await page.done();
});

test('a secretary on a phone registers an applicant, records and signs steps, and corrects one', async () => {
  const page = await open({ viewport: PHONE });
  await signIn(page, 'secretary');
  await page.goto(BASE + '/recruits');
  await page.getByRole('link', { name: '登记入党申请人' }).first().click();
  await page.waitForURL(BASE + '/recruits/new');
  // Too young on the application date: refused next to the ID number, the rest kept.
  await page.getByLabel('姓名').fill('韩雨萱');
  await page.getByLabel('身份证号码').fill(idNumber('370811', '20100101', 733));
  await page.getByLabel('手机号码').fill('13905371234');
  await page.getByLabel('工作单位').fill('村卫生室');
  await page.getByLabel('电子签名：本人登录密码或动态口令').fill(DEMO_PW);
  await page.getByRole('button', { name: '签名并登记' }).click();
  await page.locator('#err-id_number').waitFor();
  assert.match(await page.locator('#err-id_number').textContent(), /年满18周岁/);
  // the refused form's page shows the form's address: reloading asks for the form again
  assert.equal(new URL(page.url()).pathname, '/recruits/new');
  assert.equal(await page.getByLabel('姓名').inputValue(), '韩雨萱');
  await page.getByLabel('身份证号码').fill(idNumber('370811', '19980512', 733));
  await page.getByLabel('电子签名：本人登录密码或动态口令').fill(DEMO_PW);
  await page.getByRole('button', { name: '签名并登记' }).click();
  await page.waitForURL(/\/recruits\/\d+\?ok=saved/);
  await page.getByText('第2步“党组织派人谈话”').first().waitFor();
  await noHorizontalScroll(page, 'recruit file');
  // Step 2: a wrong signature is refused on the form; the right one records and signs it.
  const next = page.locator('form[action$="/steps"]');
  await next.getByLabel('说明').fill('支部书记与申请人谈话');
  await next.getByLabel('电子签名：本人登录密码或动态口令').fill('not-my-password');
  await next.getByRole('button', { name: '签名并记录' }).click();
  await page.getByRole('alert').waitFor();
  await page.locator('form[action$="/steps"]').getByLabel('电子签名：本人登录密码或动态口令').fill(DEMO_PW);
  await page.locator('form[action$="/steps"]').getByRole('button', { name: '签名并记录' }).click();
  await page.waitForURL(/\?ok=saved/);
  await page.getByText('支部书记与申请人谈话').first().waitFor();
  // Step 3: the activist is chosen by a recommendation channel.
  await page.getByText('第3步“推荐和确定入党积极分子”').first().waitFor();
  await page.locator('form[action$="/steps"]').getByLabel('推荐方式').selectOption('league');
  await page.locator('form[action$="/steps"]').getByLabel('电子签名：本人登录密码或动态口令').fill(DEMO_PW);
  await page.locator('form[action$="/steps"]').getByRole('button', { name: '签名并记录' }).click();
  await page.waitForURL(/\?ok=saved/);
  // Step 4 is the committee's: the page says who signs it.
  await page.getByText('第4步“上级党委备案”').first().waitFor();
  // A correction of step 2: a new signed record; the old one stays, struck through.
  const fix = page.locator('div.sub', { hasText: '支部书记与申请人谈话' }).locator('details.correct');
  await fix.locator('summary').click();
  await fix.getByLabel('说明').fill('支部书记在村委会与申请人谈话');
  await fix.getByLabel('更正理由').fill('漏记谈话地点');
  await fix.getByLabel('电子签名：本人登录密码或动态口令').fill(DEMO_PW);
  await fix.getByRole('button', { name: '签名并更正' }).click();
  await page.waitForURL(/\?ok=saved/);
  await page.getByText('漏记谈话地点').first().waitFor();
  await page.locator('s', { hasText: '支部书记与申请人谈话' }).first().waitFor();
  await noHorizontalScroll(page, 'recruit file after a correction');
  await shot(page, 'recruit-file-phone');
  // The pipeline lists the applicant at stage two; the talent pools open from there.
  await page.goto(BASE + '/recruits');
  await page.getByRole('link', { name: '韩雨萱' }).first().waitFor();
  await page.getByRole('link', { name: '向阳计划人才库' }).click();
  await page.getByRole('heading', { name: /向阳计划人才库/ }).waitFor();
  await noHorizontalScroll(page, 'talent pools');
  await page.done();
});

test('a county officer on a phone verifies a close-out from the ledger and reads the monthly bulletin', async () => {
  const page = await open({ viewport: PHONE });
  await signIn(page, 'county');
  // on a phone the menu is collapsed
  await page.getByRole('button', { name: '菜单' }).click();
  await page.getByRole('link', { name: '整改台账' }).first().click();
  await page.waitForURL(/\/rectify/);
  await page.getByRole('link', { name: /待我核验/ }).click();
  await page.waitForURL(/to_verify=true/);
  await noHorizontalScroll(page, 'ledger');
  await page.locator('table.data tbody a').first().click();
  await page.waitForURL(/\/rectify\/\d+$/);
  await page.getByRole('heading', { name: '核验销号' }).waitFor();
  // Sending back needs a reason: the refusal is shown, nothing changes.
  await page.getByRole('button', { name: '退回整改' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /理由/);
  await page.getByLabel('核验意见（退回时必填）').fill('经现场核验，整改到位');
  await page.getByRole('button', { name: '核验通过，予以销号' }).click();
  await page.waitForURL(/\?ok=saved/);
  await page.getByText('已销号').first().waitFor();
  await page.getByText('经现场核验，整改到位').first().waitFor();
  await noHorizontalScroll(page, 'item');
  await shot(page, 'rectify-item-phone');
  await page.goto(BASE + '/rectify/bulletin');
  await page.getByRole('heading', { name: /整改情况通报/ }).waitFor();
  await noHorizontalScroll(page, 'bulletin');
  await page.done();
});

test('a rater scores the reporters on a phone with the code on the slip, then changes a score', async () => {
  const page = await open({ viewport: PHONE });
  await page.goto(BASE + '/score');
  await page.getByLabel('评议码').fill('djpf 2026 dm');
  await page.getByRole('button', { name: '进入评分' }).click();
  await page.waitForURL(/\/score$/);
  await page.getByText(/评议人：/).waitFor();
  await noHorizontalScroll(page, 'rater page');
  const first = page.locator('section[id^=r]').first();
  const sets = first.locator('fieldset.levels');
  const n = await sets.count();
  assert.ok(n >= 1, 'indicators to score');
  for (let i = 0; i < n; i++) await sets.nth(i).getByText('好', { exact: true }).click();
  await first.getByLabel('意见建议（可不填）').fill('村级活动场所建设还需加强');
  await first.getByRole('button', { name: '提交评分' }).click();
  await page.waitForURL(/ok=saved/);
  await page.getByRole('status').filter({ hasText: '已保存' }).waitFor();
  const again = page.locator('section[id^=r]').first();
  assert.match(await again.textContent(), /已评/);
  // Changeable until the meeting closes.
  await again.locator('fieldset.levels').first().getByText('一般', { exact: true }).click();
  await again.getByRole('button', { name: '修改评分' }).click();
  await page.waitForURL(/ok=saved/);
  await shot(page, 'rater-phone');
  await page.done();
});

test('community staff on a phone record a service on a love-bank card and redeem goods with it', async () => {
  const page = await open({ viewport: PHONE });
  await signIn(page, 'city');
  await page.goto(BASE + '/lovebank');
  await page.locator('table.data tbody a').first().click();
  await page.waitForURL(/\/lovebank\/cards\/\d+$/);
  const balance = async () => Number(await page.locator('.kpi .n').first().textContent());
  const before = await balance();
  await page.getByLabel('服务项目').selectOption('blood');
  await page.getByRole('button', { name: '登记积分' }).click();
  await page.waitForURL(/ok=saved/);
  const earned = await balance();
  assert.ok(earned === before + 10 || earned === before, 'ten points, unless the day is already at its cap');
  await noHorizontalScroll(page, 'love-bank card');
  // More than the balance pays for: refused with the reason, nothing moves.
  await page.getByLabel('数量').fill('10');
  await page.getByLabel('物品', { exact: true }).selectOption({ index: 5 });
  await page.getByRole('button', { name: '兑换', exact: true }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await balance(), earned);
  await shot(page, 'lovebank-card-phone');
  await page.done();
});

test('a member checks their points on a phone and claims one; the secretary approves it and closes last month', async () => {
  const member = await open({ viewport: PHONE });
  await signIn(member, 'member');
  await member.goto(BASE + '/points/me');
  const total = Number(await member.locator('.kpi .n').first().textContent());
  assert.ok(total > 0, 'a year of points');
  await noHorizontalScroll(member, 'my points');
  await member.getByLabel('事项').selectOption('M63');
  await member.getByLabel('说明').fill('参加小区环境整治');
  await member.getByRole('button', { name: '提交申报' }).click();
  await member.waitForURL(/ok=pending/);
  assert.ok(await member.getByText('待审核').first().isVisible());
  await shot(member, 'points-member-phone');
  await member.done();

  const sec = await open({ viewport: PHONE });
  await signIn(sec, 'secretary');
  await sec.goto(BASE + '/points');
  await noHorizontalScroll(sec, 'points month');
  const row = sec.locator('tr', { hasText: '参加环境整治、文明创建' }).first();
  await row.getByRole('button', { name: '通过' }).click();
  await sec.waitForURL(/ok=saved/);
  assert.equal(await sec.locator('tr', { hasText: '参加小区环境整治' }).getByRole('button', { name: '通过' }).count(), 0);
  // last month is still open: close it
  const month = await sec.getByLabel('月份', { exact: true }).last().inputValue();
  await sec.getByRole('button', { name: '关账' }).click();
  await sec.waitForURL(/ok=closed/);
  assert.ok(await sec.getByText(month + '（').first().isVisible(), 'listed as closed');
  await shot(sec, 'points-secretary-phone');
  await sec.done();
});

test('an import with bad rows is refused row by row; the export opens as a workbook', async () => {
  const page = await open({ viewport: { width: 1366, height: 900 } });
  await signIn(page, 'county');
  await page.goto(BASE + '/members');
  const branch = (await page.locator('td[data-th="所在党支部"]').first().textContent()).trim();
  const header = '姓名,性别,民族,身份证号码,手机号码,学历,工作单位,所在党支部,入党日期,转正日期,党员状态,网格角色,流入地';
  const ok = `孔令宇,男,汉族,${idNumber('370811', '19880402', 233)},13905371234,大学本科,,${branch},2012-06-30,2013-06-30,正式党员,,`;
  const badId = `颜素梅,女,汉族,370811198804021234,,大学本科,,${branch},2012-06-30,2013-06-30,正式党员,,`;
  const noBranch = `孟庆和,男,汉族,${idNumber('370811', '19750909', 511)},,高中,,不存在的党支部,2001-07-01,2002-07-01,正式党员,,`;
  const file = join(workDir, 'import.csv');
  writeFileSync(file, [header, ok, badId, noBranch].join('\n') + '\n');
  await page.goto(BASE + '/members/import');
  await page.getByLabel('选择文件').setInputFiles(file);
  await page.getByRole('button', { name: '开始导入' }).click();
  await page.locator('#import-errors').waitFor({ timeout: 30000 });
  const report = await page.locator('#import-errors tbody').textContent();
  assert.match(report, /身份证号码/);
  assert.match(report, /所在党支部/);
  assert.equal(await page.locator('[data-written]').getAttribute('data-written'), '0', 'all-or-nothing by default');
  await shot(page, 'import-report');
  // Export the filtered list and read the workbook back.
  await page.goto(BASE + '/members?gender=F');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: '导出 Excel' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /\.xlsx$/);
  const path = join(workDir, 'export.xlsx');
  await download.saveAs(path);
  const texts = xlsxTexts(readFileSync(path));
  assert.ok(texts.includes('姓名'), 'the header row');
  assert.ok(texts.includes('女') && !texts.includes('男'), 'exactly the filter');
  // A batch selection exports just the chosen rows.
  const names = await page.locator('td[data-th="姓名"] a').allTextContents();
  await page.getByLabel(`选择 ${names[0]}`).check();
  await page.getByLabel(`选择 ${names[1]}`).check();
  await page.getByText('已选 2 项').waitFor();
  const [batch] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: '导出所选（Excel）' }).click(),
  ]);
  const bpath = join(workDir, 'batch.xlsx');
  await batch.saveAs(bpath);
  const btexts = xlsxTexts(readFileSync(bpath));
  assert.ok(btexts.includes(names[0].trim()) && btexts.includes(names[1].trim()));
  assert.ok(!btexts.includes(names[2].trim()), 'an unselected row stays out');
  await page.done();
});

test('a county account is refused a member of another county', async () => {
  const city = await open();
  await signIn(city, 'city');
  // A member under one of the city's other organisations (not 任城区).
  let foreign;
  for (const org of await (await city.request.get(BASE + '/api/v1/orgs/1/children')).json()) {
    if (org.name.includes('任城区')) continue;
    const list = await (await city.request.get(`${BASE}/api/v1/members?per_page=1&org_id=${org.id}`)).json();
    if (list.items.length) { foreign = list.items[0]; break; }
  }
  assert.ok(foreign, 'the demo city has members outside 任城区');
  await city.done();
  const page = await open();
  await signIn(page, 'county');
  const res = await page.goto(`${BASE}/members/${foreign.id}`);
  assert.equal(res.status(), 404, `member ${foreign.id} (${foreign.org_name}) is outside 任城区`);
  await page.getByRole('heading', { name: '未找到' }).waitFor();
  assert.ok(!(await page.content()).includes(foreign.name), 'nothing of the record leaks');
  await page.done();
});

test('a secretary on a phone: every page fits, the menu collapses and opens', async () => {
  const page = await open({ viewport: PHONE });
  await signIn(page, 'secretary');
  for (const path of ['/', '/members', '/members/new', '/orgs', '/orgs/warnings', '/transfers', '/rules', '/me', '/password', '/meetings', '/meetings/year', '/meetings/new', '/elections', '/elections/new', '/appraisals', '/appraisals/rate']) {
    await page.goto(BASE + path);
    await noHorizontalScroll(page, path);
  }
  await page.goto(BASE + '/members');
  await shot(page, 'members-phone');
  // the top bar is one line: 退出 beside the brand, not wrapped below it
  const brand = await page.locator('.topbar .brand').boundingBox();
  const logout = await page.locator('.topbar').getByRole('button', { name: '退出' }).boundingBox();
  assert.ok(Math.abs((logout.y + logout.height / 2) - (brand.y + brand.height / 2)) < 8, `退出 at ${logout.y}, brand at ${brand.y}`);
  assert.equal(await page.locator('#sidenav').isVisible(), false);
  await page.getByRole('button', { name: '菜单' }).click();
  assert.equal(await page.locator('#sidenav').isVisible(), true);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('#sidenav').isVisible(), false);
  // The member list is cards, and a member opens from one.
  await page.locator('td[data-th="姓名"] a').first().click();
  await page.waitForURL(/\/members\/\d+$/);
  await noHorizontalScroll(page, 'member detail');
  await page.done();
});

test('wide pages fit a phone and a laptop: statistics, star scoring, rules, notices, the log', async () => {
  const pages = {
    city: ['/', '/recruits/stats', '/stars', '/rules', '/circulars', '/circulars/new', '/points/board', '/rectify/bulletin'],
    county: ['/', '/recruits/stats', '/stars', '/rules', '/recruits/new', '/rectify/new', '/points'],
    member: ['/', '/points/me', '/circulars'],
    auditor: ['/audit'],
  };
  for (const viewport of [PHONE, { width: 1366, height: 900 }]) {
    for (const [user, paths] of Object.entries(pages)) {
      const page = await open({ viewport });
      await login(page, user, DEMO_PW);
      await page.waitForLoadState('networkidle');
      for (const named of paths) {
        const path = named.startsWith('@') ? await resolve[named](page) : named;
        await page.goto(BASE + path);
        await noHorizontalScroll(page, `${user} ${viewport.width}px ${path}`);
      }
      await page.done();
    }
  }
});

test('工作台 and notices: the county sends a notice, the secretary finds it on the phone and 签收s it', async () => {
  const county = await open();
  await signIn(county, 'county');
  await county.goto(BASE + '/circulars/new');
  await county.getByLabel('标题').fill('关于报送年度党建工作总结的通知');
  await county.getByLabel('正文').fill('各党组织：\n请于12月25日前报送。');
  await county.getByLabel('本组织以下全部党组织').check();
  await county.getByLabel('要求接收组织签收').check();
  await county.getByRole('button', { name: '发布' }).click();
  await county.waitForURL(/\/circulars\/\d+\?ok=circular_published/);
  await county.getByRole('status').filter({ hasText: '通知已发布' }).waitFor();
  const url = county.url().split('?')[0];
  await county.done();

  const sec = await open({ viewport: PHONE });
  await signIn(sec, 'secretary');
  // the to-do list comes first on the phone, with the notice to 签收 and a count in the menu
  await sec.getByRole('heading', { name: /我的待办/ }).waitFor();
  const todo = sec.getByRole('link', { name: /签收通知：关于报送年度党建工作总结的通知/ });
  await todo.waitFor();
  await noHorizontalScroll(sec, 'secretary home');
  await shot(sec, 'workbench-secretary-phone');
  await todo.click();
  await sec.waitForURL(url);
  await sec.getByText('请于12月25日前报送。').waitFor();
  await sec.getByRole('button', { name: '签收' }).click();
  await sec.getByRole('status').filter({ hasText: '已签收' }).waitFor();
  await sec.goto(BASE + '/');
  assert.equal(await sec.getByRole('link', { name: /签收通知：关于报送年度党建工作总结的通知/ }).count(), 0);
  await sec.done();

  const back = await open();
  await signIn(back, 'county');
  await back.goto(url);
  await back.getByText('已签收').first().waitFor();
  await back.done();
});

test('工作记实: a town secretary files the week on a phone from the to-do; the county sees it and returns it', async () => {
  const town = await open({ viewport: PHONE });
  await signIn(town, 'township');
  // the scheduler makes the week's obligation at start: the to-do leads to the week's form
  const todo = town.getByRole('link', { name: /填报工作记实/ }).first();
  await todo.waitFor({ timeout: 30000 });
  await todo.click();
  await town.waitForURL(/\/work-logs\?week=/);
  await town.getByRole('heading', { name: '我的工作记实' }).waitFor();
  // how last week's plan went, when there was one
  for (const radio of await town.locator('input[type=radio][value=done]').all()) await radio.check();
  await town.getByLabel('第1项').first().fill('到联系村督导秋冬季农田水利建设');
  // refused first: no item marked 党建
  await town.locator('textarea[name=plan_text_0]').fill('召开镇党委会研究年度述职评议工作');
  await town.getByRole('button', { name: /报送/ }).click();
  await town.getByText('每周记实须包含党建工作内容').waitFor();
  assert.equal(await town.locator('textarea[name=done_text_0]').inputValue(), '到联系村督导秋冬季农田水利建设', 'the refused form keeps what was typed');
  await town.locator('input[name=plan_party_0]').check();
  await town.getByRole('button', { name: /报送/ }).click();
  await town.waitForURL(/\/work-logs\/\d+/);
  await town.getByRole('status').filter({ hasText: '该周工作记实已报送' }).waitFor();
  await noHorizontalScroll(town, 'work log');
  await shot(town, 'work-log-town-phone');
  const url = town.url().split('?')[0];
  await town.done();

  const county = await open();
  await signIn(county, 'county');
  await county.goto(url);
  await county.getByText('召开镇党委会研究年度述职评议工作').waitFor();
  await county.getByLabel('退回意见').fill('请写明督导的具体村和发现的问题');
  await county.getByRole('button', { name: '退回修改' }).click();
  await county.getByRole('status').filter({ hasText: '已退回' }).waitFor();
  await county.goto(BASE + '/work-logs/compliance');
  await county.getByRole('heading', { name: '工作记实按时率' }).waitFor();
  assert.ok(await county.locator('table.data tbody tr').count() > 10, 'the county\'s units are listed');
  await county.done();
});

// A JPEG as the server's checks walk it (SOI, frame header, scan header, data, EOI).
const PHOTO = Buffer.from([0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00,
  0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34, 0xFF, 0xD9]);

test('第一书记: a first secretary clocks in on a phone inside the radius and out outside it; the county sees the month', async () => {
  const fs = await open({ viewport: PHONE, permissions: ['geolocation'], geolocation: { latitude: 0, longitude: 0 } });
  await signIn(fs, 'firstsec');
  await fs.getByRole('link', { name: '驻村打卡' }).first().click();
  await fs.waitForURL(/\/first-secretaries\/checkin/);
  await fs.getByRole('heading', { name: '驻村打卡' }).waitFor();
  // where the village is: the first secretary reads their own assignment
  const href = await fs.getByRole('link', { name: '我的派驻信息和打卡记录' }).getAttribute('href');
  const id = href.split('/').pop();
  const a = await (await fs.request.get(BASE + '/api/v1/first-secretaries/' + id)).json();
  assert.ok(a.lat && a.lng, 'the village has a location');
  // about 110 m north of the village: inside the 500 m radius
  await fs.context().setGeolocation({ latitude: a.lat + 0.001, longitude: a.lng });
  await fs.locator('input[type=file]').setInputFiles({ name: 'photo.jpg', mimeType: 'image/jpeg', buffer: PHOTO });
  // the page reloads itself a moment after a clock-in is stored (the demo may already hold
  // one from this morning, so the record list alone does not tell the reload has happened)
  const reloaded = fs.waitForEvent('load');
  await fs.getByRole('button', { name: '上班打卡' }).click();
  await fs.getByRole('status').filter({ hasText: '打卡成功：在村' }).waitFor();
  await reloaded;
  await fs.getByText(/上班打卡 · 在村/).first().waitFor();
  // about 5.5 km away: recorded, marked outside
  await fs.context().setGeolocation({ latitude: a.lat + 0.05, longitude: a.lng });
  await fs.locator('input[type=file]').setInputFiles({ name: 'photo.jpg', mimeType: 'image/jpeg', buffer: PHOTO });
  await fs.getByRole('button', { name: '下班打卡' }).click();
  await fs.getByRole('status').filter({ hasText: '不在打卡范围' }).waitFor();
  await noHorizontalScroll(fs, 'clock-in');
  await shot(fs, 'first-secretary-checkin-phone');
  await fs.done();

  const county = await open();
  await signIn(county, 'county');
  await county.goto(BASE + '/first-secretaries/presence');
  await county.getByRole('heading', { name: '第一书记在村情况' }).waitFor();
  assert.ok(await county.locator('table.data tbody tr').count() > 0, 'the month lists the first secretaries on duty');
  await county.goto(BASE + '/first-secretaries/' + id);
  await county.getByRole('heading', { name: '打卡记录' }).waitFor();
  await county.locator('td').filter({ hasText: '不在打卡范围' }).first().waitFor();
  await county.getByRole('heading', { name: '红黑台账' }).waitFor();
  // 四个一: the county's own round asks for the month's meeting; recording it fulfils it
  await county.goto(BASE + '/first-secretaries');
  await county.getByRole('link', { name: '四个一' }).first().click();
  await county.getByRole('heading', { name: '“四个一”落实情况' }).waitFor();
  await county.getByLabel('活动类别').selectOption('meeting');
  await county.getByLabel('主题', { exact: true }).fill('本月第一书记工作例会');
  await county.getByLabel('主要内容').fill('汇报交流当月工作开展情况、存在困难问题以及下步计划打算');
  await county.getByRole('button', { name: '记录活动' }).click();
  await county.waitForURL(/ok=saved/);
  await county.getByText('本月第一书记工作例会').waitFor();
  await county.done();
});

test('实绩 and 比武打擂: a first secretary files the month\'s results on a phone and opens the public page; the county sums them, sees the alliance\'s champions and the presence map', async () => {
  const fs = await open({ viewport: PHONE });
  await signIn(fs, 'firstsec');
  await fs.goto(BASE + '/first-secretaries/checkin');
  const href = await fs.getByRole('link', { name: '我的派驻信息和打卡记录' }).getAttribute('href');
  await fs.goto(BASE + href);
  await fs.getByRole('heading', { name: '月度实绩报告' }).waitFor();
  await fs.getByText('填报月度实绩').click();
  // a letter in a number is refused, with what was typed kept
  await fs.getByLabel('新修道路（公里）').fill('1.2x');
  await fs.getByLabel('安装路灯（盏）').fill('12');
  await fs.getByLabel('项目进展').fill('村集体光伏项目并网发电');
  await fs.getByRole('button', { name: '报送实绩' }).click();
  await fs.locator('.field-error').filter({ hasText: '新修道路（公里）须为不小于0的数，最多2位小数' }).waitFor();
  assert.equal(await fs.getByLabel('安装路灯（盏）').inputValue(), '12');
  await fs.getByLabel('新修道路（公里）').fill('1.25');
  await fs.getByRole('button', { name: '报送实绩' }).click();
  await fs.waitForURL(/ok=report_filed/);
  await fs.locator('#reports li').filter({ hasText: '新修道路 1.25 公里' }).first().waitFor();
  await noHorizontalScroll(fs, 'results report');
  await shot(fs, 'first-secretary-report-phone');
  const pub = await fs.getByRole('link', { name: '亮身份、亮标准、亮承诺' }).getAttribute('href');
  await fs.done();

  // the public page: no account, no personal data
  const anon = await open({ viewport: PHONE });
  await anon.goto(BASE + pub);
  await anon.getByRole('heading', { name: '亮承诺' }).waitFor();
  await anon.getByText(/新修道路/).first().waitFor();
  const text = await anon.locator('body').innerText();
  assert.ok(!/\d{17}[\dX]|1[3-9]\d{9}/.test(text), 'no ID number or phone on the public page');
  await noHorizontalScroll(anon, 'public page');
  await shot(anon, 'first-secretary-public-phone');
  await anon.done();

  const county = await open();
  await signIn(county, 'county');
  await county.goto(BASE + '/first-secretaries/results');
  await county.getByRole('heading', { name: /第一书记实绩汇总/ }).waitFor();
  await county.locator('td').filter({ hasText: '新修道路' }).first().waitFor();
  await county.goto(BASE + '/first-secretaries/alliances');
  await county.getByRole('heading', { name: '第一书记联盟与比武打擂' }).waitFor();
  await county.locator('li').filter({ hasText: '第1名' }).first().waitFor();
  await county.getByText(/流动红旗/).first().waitFor();
  await shot(county, 'first-secretary-alliances');
  await county.goto(BASE + '/first-secretaries/presence');
  await county.locator('.echart.drawn').waitFor();
  await shot(county, 'first-secretary-presence-map');
  await county.done();
});

test('一月一评分、一季一排名: a township scores a first secretary\'s month on a phone; the county closes it and publishes the quarter; the first secretary reads the ranking', async () => {
  const town = await open({ viewport: PHONE });
  await signIn(town, 'township');
  // the 工作台 says who is still unscored for last month
  await town.getByRole('link', { name: /第一书记月度评分：\d+人未评分/ }).first().click();
  await town.getByRole('heading', { name: /第一书记月度评分/ }).waitFor();
  const month = await town.getByLabel('月份').inputValue();
  await town.locator('table.data tbody tr').filter({ hasText: '未评分' }).first().getByRole('link').click();
  await town.getByRole('heading', { name: '月度评分' }).waitFor();
  await town.getByText('按评分表打分').click();
  await town.getByLabel('评分月份').selectOption(month);
  const marks = [13, 12, 17, 13, 12, 18];
  const boxes = town.locator('input[name^=score_FS]');
  assert.equal(await boxes.count(), 6, 'the six areas of the sheet');
  for (let i = 0; i < 6; i++) await boxes.nth(i).fill(String(marks[i]));
  await town.getByLabel('评分说明').fill('村内道路硬化工程按期推进');
  await town.getByRole('button', { name: '提交评分' }).click();
  await town.waitForURL(/ok=saved/);
  await town.locator('#scores tbody tr').filter({ hasText: month }).getByText('85', { exact: true }).waitFor();
  await noHorizontalScroll(town, 'score sheet');
  await shot(town, 'first-secretary-score-phone');
  await town.goto(BASE + '/first-secretaries/scores?month=' + month);
  assert.equal(await town.locator('table.data tbody tr').filter({ hasText: '未评分' }).count(), 0, 'everyone scored');
  await town.done();

  const county = await open();
  county.on('dialog', (d) => d.accept());
  await signIn(county, 'county');
  await county.goto(BASE + '/first-secretaries/scores?month=' + month);
  await county.getByRole('button', { name: '关账 ' + month }).click();
  await county.waitForURL(/ok=closed/);
  await county.getByText('已关账').first().waitFor();
  // the last full quarter is closed and waits on the county's 工作台 to be published
  await county.goto(BASE + '/');
  await county.getByRole('link', { name: /第一书记季度排名待发布/ }).first().click();
  await county.getByRole('heading', { name: /第一书记季度排名/ }).waitFor();
  const quarter = await county.getByLabel('季度').inputValue();
  await county.getByRole('button', { name: `发布${quarter}排名` }).click();
  await county.waitForURL(/ok=ranking_published/);
  await county.getByText('已发布', { exact: true }).waitFor();
  assert.ok(await county.locator('table.data tbody tr').count() > 0, 'the quarter ranks the first secretaries');
  await county.done();

  const fs = await open({ viewport: PHONE });
  await signIn(fs, 'firstsec');
  await fs.goto(BASE + '/first-secretaries/checkin');
  await fs.getByRole('link', { name: '我的评分与排名' }).click();
  await fs.getByRole('heading', { name: '月度评分' }).waitFor();
  await fs.getByRole('link', { name: /季度排名：第\d+名/ }).first().click();
  await fs.getByRole('heading', { name: /第一书记季度排名/ }).waitFor();
  await fs.getByText('本人').waitFor();
  await fs.done();
});

test('组织生活: a secretary plans a meeting on a phone and shows its code; a member and an observer without an account sign in; the secretary files the minutes; the county reads compliance', async () => {
  // the sitting started ten minutes ago, local time (Asia/Shanghai), and lasts until 23:59 at most
  const local = new Date(Date.now() + 8 * 3600e3 - 10 * 60e3).toISOString();
  const day = local.slice(0, 10);
  const starts = local.slice(11, 16) < '00:10' ? '00:00' : local.slice(11, 16);
  const endMin = Math.min(Number(starts.slice(0, 2)) * 60 + Number(starts.slice(3, 5)) + 120, 23 * 60 + 59);
  const ends = `${String(Math.floor(endMin / 60)).padStart(2, '0')}:${String(endMin % 60).padStart(2, '0')}`;

  const sec = await open({ viewport: PHONE });
  await signIn(sec, 'secretary');
  await sec.goto(BASE + '/meetings');
  await sec.getByRole('link', { name: '本支部会议安排' }).click();
  await sec.getByRole('link', { name: '安排会议' }).click();
  // refused first: no kind chosen
  await sec.getByLabel('日期', { exact: true }).fill(day);
  await sec.getByRole('button', { name: '保存' }).click();
  await sec.getByText('请选择会议类别（可多选）').first().waitFor();
  await sec.getByLabel('党员大会').check();
  await sec.getByLabel('主题党日').check();
  await sec.getByLabel('开始', { exact: true }).fill(starts);
  await sec.getByLabel('结束', { exact: true }).fill(ends);
  await sec.getByLabel('地点', { exact: true }).fill('村党群服务中心');
  await sec.getByRole('button', { name: '保存' }).click();
  await sec.waitForURL(/\/meetings\/\d+\?ok=meeting_created/);
  await sec.getByRole('button', { name: '发出通知，生成参会名单' }).click();
  await sec.getByRole('status').filter({ hasText: '参会名单已生成' }).waitFor();
  const code = (await sec.locator('.big-code').innerText()).trim();
  assert.match(code, /^\d{6}$/);
  await noHorizontalScroll(sec, 'meeting with its code');
  await shot(sec, 'meeting-code-phone');
  const url = sec.url().split('?')[0];

  // a member signs in with the code on a phone; a second time is refused
  const member = await open({ viewport: PHONE });
  await signIn(member, 'member');
  await member.goto(BASE + '/meetings');
  await member.getByLabel('会场公布的六位签到码').fill(code);
  await member.getByRole('button', { name: '签到' }).click();
  await member.getByRole('status').filter({ hasText: '签到成功' }).waitFor();
  await member.goto(BASE + '/meetings');
  await member.getByLabel('会场公布的六位签到码').fill(code);
  await member.getByRole('button', { name: '签到' }).click();
  await member.getByText('无需重复签到').first().waitFor();
  await member.done();

  // an observer from the county, without an account
  const observer = await open({ viewport: PHONE });
  await observer.goto(BASE + '/attend');
  await observer.getByLabel('签到码', { exact: true }).fill(code);
  await observer.getByLabel('姓名', { exact: true }).fill('赵干事');
  await observer.getByLabel('列席身份', { exact: true }).selectOption('upper');
  await observer.getByLabel('单位或身份（可不填）').fill('县委组织部');
  await observer.getByLabel('意见建议（可不填）').fill('议程规范，讨论充分');
  await observer.getByRole('button', { name: '签到' }).click();
  await observer.getByText('您已签到列席').waitFor();
  await noHorizontalScroll(observer, 'attend');
  await observer.done();

  // the secretary marks the rest present on the roll and files the minutes
  await sec.goto(url);
  await sec.getByText('赵干事').waitFor();
  for (;;) {
    const row = sec.locator('tr', { has: sec.getByText('未签到', { exact: true }) }).first();
    if (await row.count() === 0) break;
    await row.getByRole('button', { name: '登记' }).click();
    await sec.getByRole('status').filter({ hasText: '参会情况已登记' }).waitFor();
  }
  await sec.getByLabel('主持人', { exact: true }).fill('王建华');
  await sec.getByLabel('记录人', { exact: true }).fill('李秀英');
  await sec.getByLabel('会议内容（发言摘要、讨论情况）').fill('集中学习上级文件精神，讨论村集体经济发展，党员逐一发言。');
  await sec.getByLabel('决定事项', { exact: true }).first().fill('成立合作社筹备组');
  await sec.getByRole('button', { name: '签字归档' }).click();
  await sec.getByRole('status').filter({ hasText: '会议记录已签字归档' }).waitFor();
  await sec.getByRole('heading', { name: '会议记录' }).waitFor();
  assert.equal(await sec.getByRole('button', { name: '签字归档' }).count(), 0, 'a filed record has no form');
  await noHorizontalScroll(sec, 'filed meeting');
  await shot(sec, 'meeting-filed-phone');
  await sec.done();

  // the county reads compliance and drills down to a branch
  const county = await open();
  await signIn(county, 'county');
  await county.goto(BASE + '/meetings/compliance');
  await county.getByRole('heading', { name: '三会一课达标情况' }).waitFor();
  await county.locator('table.data tbody tr a').first().click();
  await county.waitForURL(/\/meetings\/year\?org_id=/);
  await county.getByRole('heading', { name: '各类会议按期召开情况' }).waitFor();
  await shot(county, 'meeting-compliance-branch');
  await county.done();
});

test('换届选举: a secretary prepares an election with 差额 candidates, is refused at ⅘ present and counts it at ⅘ + 1; the county approves it and the committee is on record', async () => {
  const local = new Date(Date.now() + 8 * 3600e3 - 10 * 60e3).toISOString();
  const day = local.slice(0, 10);
  const starts = local.slice(11, 16) < '00:10' ? '00:00' : local.slice(11, 16);
  const endMin = Math.min(Number(starts.slice(0, 2)) * 60 + Number(starts.slice(3, 5)) + 120, 23 * 60 + 59);
  const ends = `${String(Math.floor(endMin / 60)).padStart(2, '0')}:${String(endMin % 60).padStart(2, '0')}`;

  const sec = await open({ viewport: PHONE });
  await signIn(sec, 'secretary');
  // the assembly it is held at, notified to the whole roll
  await sec.goto(BASE + '/meetings/new');
  await sec.getByLabel('党员大会').check();
  await sec.getByLabel('会议名称（可不填，按日期和类别生成）').fill('支部换届选举党员大会');
  await sec.getByLabel('日期', { exact: true }).fill(day);
  await sec.getByLabel('开始', { exact: true }).fill(starts);
  await sec.getByLabel('结束', { exact: true }).fill(ends);
  await sec.getByRole('button', { name: '保存' }).click();
  await sec.waitForURL(/\/meetings\/\d+\?ok=meeting_created/);
  const meetingUrl = sec.url().split('?')[0];
  const meetingId = meetingUrl.split('/').pop();
  await sec.getByRole('button', { name: '发出通知，生成参会名单' }).click();
  await sec.getByRole('status').filter({ hasText: '参会名单已生成' }).waitFor();

  // prepared from the elections page: three candidates for three seats is refused (差额)
  await sec.goto(BASE + '/elections');
  await sec.getByRole('link', { name: '筹备换届选举' }).click();
  await sec.getByLabel('召开选举的党员大会').selectOption(meetingId);
  await sec.getByLabel(/应选委员名额/).fill('3');
  const boxes = sec.locator('input[name=candidates]');
  for (let i = 0; i < 3; i++) await boxes.nth(i).check();
  await sec.getByRole('button', { name: '保存' }).click();
  await sec.getByText('应选3名，至少4名候选人，现有3名').first().waitFor();
  await sec.locator('input[name=candidates]').nth(3).check();
  await sec.getByRole('button', { name: '保存' }).click();
  await sec.waitForURL(/\/elections\/\d+\?ok=election_created/);
  const electionUrl = sec.url().split('?')[0];
  await noHorizontalScroll(sec, 'election prepared');

  // the ballot prints with the four candidates
  await sec.getByRole('link', { name: '打印选票' }).click();
  await sec.getByRole('heading', { name: /委员选举选票/ }).waitFor();
  assert.equal(await sec.locator('table.data tbody td').count(), 4);

  // how many are entitled: the election page counts the assembly's roll
  await sec.goto(electionUrl);
  const text = await sec.getByText(/应到有选举权党员 \d+ 人，已到 \d+ 人/).innerText();
  const entitled = Number(text.match(/应到有选举权党员 (\d+) 人/)[1]);
  const atMost = Math.floor(entitled * 4 / 5); // the most present that is not more than ⅘
  assert.ok(atMost >= 3, `a branch of ${entitled} voting members`);
  const markVoting = async (n) => {
    await sec.goto(meetingUrl);
    for (let i = 0; i < n; i++) {
      const row = sec.locator('tbody tr').filter({ has: sec.getByRole('cell', { name: '有', exact: true }) })
        .filter({ has: sec.getByText('未签到', { exact: true }) }).first();
      await row.getByRole('button', { name: '登记' }).click();
      await sec.getByRole('status').filter({ hasText: '参会情况已登记' }).waitFor();
    }
  };
  const count = async (present) => {
    await sec.goto(electionUrl);
    await sec.getByLabel('收回选票').fill(String(present));
    const votes = sec.locator('input[name^=votes_]');
    for (let i = 0; i < 4; i++) await votes.nth(i).fill(i < 3 ? String(present) : '0');
    await sec.getByLabel(/^书记/).selectOption({ index: 1 });
    await sec.getByRole('button', { name: '记录结果并报上级批复' }).click();
  };
  await markVoting(atMost);
  await count(atMost);
  await sec.getByText(`（应到${entitled}人，实到${atMost}人），选举无效`).first().waitFor();
  await markVoting(1);
  await count(atMost + 1);
  await sec.getByRole('status').filter({ hasText: '选举结果已记录，已报上级批复' }).waitFor();
  assert.equal(await sec.locator('tbody td', { hasText: /^当选/ }).count(), 3, 'three elected');
  await shot(sec, 'election-reported-phone');
  await sec.done();

  // the county approves it from its 工作台; the committee is on record
  const county = await open();
  await signIn(county, 'county');
  await county.getByRole('link', { name: /^批复换届选举结果：/ }).first().click();
  await county.getByLabel('批复文号').fill('县委组〔2026〕18号');
  await county.getByRole('button', { name: '同意，批复' }).click();
  await county.getByRole('status').filter({ hasText: '新一届委员会名单已更新' }).waitFor();
  await county.getByRole('heading', { name: '新一届支部委员会' }).waitFor();
  await county.goto(BASE + '/elections');
  await county.getByRole('heading', { name: '应换届的党支部' }).waitFor();
  await shot(county, 'elections-county');
  await county.done();
});

test('民主评议: a secretary opens the round; a member writes the self-assessment and rates the others by code on a phone; the branch decides and the county sees the grades', async () => {
  const local = new Date(Date.now() + 8 * 3600e3 - 10 * 60e3).toISOString();
  const day = local.slice(0, 10);
  const starts = local.slice(11, 16) < '00:10' ? '00:00' : local.slice(11, 16);
  const endMin = Math.min(Number(starts.slice(0, 2)) * 60 + Number(starts.slice(3, 5)) + 60, 23 * 60 + 59);
  const ends = `${String(Math.floor(endMin / 60)).padStart(2, '0')}:${String(endMin % 60).padStart(2, '0')}`;

  const sec = await open({ viewport: PHONE });
  await signIn(sec, 'secretary');
  // the assembly that decides, held today
  await sec.goto(BASE + '/meetings/new');
  await sec.getByLabel('党员大会').check();
  await sec.getByLabel('会议名称（可不填，按日期和类别生成）').fill('民主评议党员大会');
  await sec.getByLabel('日期', { exact: true }).fill(day);
  await sec.getByLabel('开始', { exact: true }).fill(starts);
  await sec.getByLabel('结束', { exact: true }).fill(ends);
  await sec.getByRole('button', { name: '保存' }).click();
  await sec.waitForURL(/\/meetings\/\d+\?ok=meeting_created/);
  const meetingId = sec.url().split('?')[0].split('/').pop();
  await sec.getByRole('button', { name: '发出通知，生成参会名单' }).click();
  await sec.getByRole('status').filter({ hasText: '参会名单已生成' }).waitFor();

  await sec.goto(BASE + '/appraisals');
  await sec.getByRole('button', { name: '开展本年度民主评议' }).click();
  await sec.waitForURL(/\/appraisals\/\d+\?ok=appraisal_created/);
  const roundUrl = sec.url().split('?')[0];
  const roll = await sec.locator('table.data tbody tr').count();
  assert.ok(roll >= 3, `a roll of ${roll}`);

  // the member finds it on 工作台 and writes the self-assessment on a phone
  const member = await open({ viewport: PHONE });
  await signIn(member, 'member');
  await member.getByRole('link', { name: /年度民主评议个人自评$/ }).first().click();
  await member.getByLabel(/^个人自评/).fill('一年来按时参加组织生活，认真学习党的理论，带头参加村里人居环境整治和志愿服务；不足是联系群众还不够经常。');
  await member.getByLabel('自评等次').selectOption('合格');
  await member.getByRole('button', { name: '提交个人自评' }).click();
  await member.getByRole('status').filter({ hasText: '个人自评已保存' }).waitFor();
  await noHorizontalScroll(member, 'appraisal self-assessment');

  // the rating opens at the meeting; its code is shown to the secretary only
  await sec.goto(roundUrl);
  await sec.getByRole('button', { name: '开始民主测评' }).click();
  await sec.getByRole('status').filter({ hasText: '民主测评已开始' }).waitFor();
  const code = (await sec.locator('.big-code strong').innerText()).trim();
  assert.match(code, /^\d{6}$/);

  // the member rates everyone else (never themselves); a second ballot is not offered
  await member.goto(BASE + '/appraisals');
  await member.getByLabel('民主测评码').fill(code);
  await member.getByRole('button', { name: '参加民主测评' }).click();
  const lines = member.locator('fieldset.levels');
  assert.equal(await lines.count(), roll - 1, 'everyone but the member');
  for (let i = 0; i < roll - 1; i++) await lines.nth(i).getByLabel('合格', { exact: true }).check();
  await lines.nth(0).getByLabel('优秀', { exact: true }).check();
  await lines.nth(0).getByPlaceholder('互评意见（可不填）').fill('工作扎实，带头作用好');
  await noHorizontalScroll(member, 'appraisal ballot');
  await shot(member, 'appraisal-ballot-phone');
  await member.getByRole('button', { name: '提交测评票' }).click();
  await member.getByRole('status').filter({ hasText: '测评票已提交' }).waitFor();
  await member.goto(BASE + '/appraisals/rate?code=' + code);
  await member.getByText(/不能重复测评/).waitFor();

  // the paper ballots of those without a phone, until half of the roll has rated
  for (let i = 1; i < Math.ceil(roll / 2); i++) {
    await sec.goto(roundUrl);
    await sec.getByText('录入一张纸质测评票（不记名）').click();
    await sec.getByRole('button', { name: '录入测评票' }).click();
    await sec.getByRole('status').filter({ hasText: '纸质测评票已录入' }).waitFor();
  }
  // the branch decides at the assembly; results with the weights and the share
  await sec.goto(roundUrl);
  await sec.getByLabel('评定会议').selectOption(meetingId);
  sec.once('dialog', (d) => d.accept());
  await sec.getByRole('button', { name: '评定并公布结果' }).click();
  await sec.getByRole('status').filter({ hasText: '评定结果已产生' }).waitFor();
  // the comments show once decided, without their authors
  await sec.getByText('工作扎实，带头作用好').first().waitFor({ state: 'attached' });
  assert.equal(await sec.locator('table.data tbody td strong').count(), roll, 'every member has a result');
  await noHorizontalScroll(sec, 'appraisal decided');
  await shot(sec, 'appraisal-decided-phone');
  await sec.done();

  // the member sees their own result; the county sees the branch's grades
  await member.goto(roundUrl);
  await member.getByText('评定结果').waitFor();
  await member.done();
  const county = await open();
  await signIn(county, 'county');
  await county.goto(BASE + '/appraisals');
  await county.getByRole('heading', { name: '各支部民主评议' }).waitFor();
  assert.ok(await county.locator('table.data tbody tr').count() >= 2, 'the demo rounds and this one');
  await shot(county, 'appraisals-county');
  await county.done();
});

test('the interface follows the browser language, and the account setting wins', async () => {
  const page = await open({ locale: 'en-US', viewport: { width: 1366, height: 900 } });
  await page.goto(BASE + '/login');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Username').fill('member');
  await page.getByLabel('Password').fill(DEMO_PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(BASE + '/');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.getByRole('link', { name: 'My account' }).click();
  await page.getByLabel('Interface language').selectOption('zh-CN');
  await page.getByRole('button', { name: 'Save' }).first().click();
  await page.waitForURL(/ok=locale/);
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  await page.getByRole('status').filter({ hasText: '界面语言已更改' }).waitFor();
  await page.getByLabel('界面语言').selectOption('auto');
  await page.getByRole('button', { name: '保存' }).first().click();
  await page.waitForURL(/ok=locale/);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.done();
});

test('keyboard only: skip to the content, reach the menu, see where the focus is', async () => {
  const page = await open({ viewport: { width: 1366, height: 900 } });
  await signIn(page, 'county');
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.textContent.trim());
  assert.equal(first, '跳到主要内容');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'a visible focus ring');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  // Tab on through the page until the member list link in the menu comes round.
  await page.goto(BASE + '/');
  let found = false;
  for (let i = 0; i < 20 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement.getAttribute('href') === '/members');
  }
  assert.ok(found, 'the menu is reachable by keyboard');
  await page.keyboard.press('Enter');
  await page.waitForURL(BASE + '/members');
  await page.done();
});

test('accessibility: the main pages pass axe-core WCAG 2 A/AA checks', async () => {
  // axe is injected as a script, which the pages' CSP rightly forbids; this context bypasses it.
  const pages = {
    county: ['/', '/members', '/members?gender=F&sort=name', '/members?q=3708', '/orgs', '/orgs/warnings', '/members/import', '/transfers', '/rules', '/me', '/recruits', '/recruits/stats', '/talents', '/rectify', '/rectify/new', '/rectify/bulletin', '/interviews', '/reviews', '/lovebank', '/lovebank/statement', '/points', '/points/board', '/points/board?subject=secretary', '/points/ranking', '/stars', '/circulars', '/circulars/new', '/circulars?box=sent', '/cadres', '/work-logs/board', '/work-logs/compliance', '/first-secretaries', '/first-secretaries/presence', '@fs-assignment', '@fs-round'],
    township: ['/work-logs', '/meetings/compliance', '/elections', '/appraisals'],
    firstsec: ['/first-secretaries/checkin'],
    member: ['/', '/points/me', '/circulars', '/meetings'],
    secretary: ['/', '/members/new', '/password', '/points', '/points/year', '/circulars', '/meetings', '/meetings/year', '/meetings/new', '/elections', '/elections/new', '/appraisals'],
    security: ['/accounts', '/accounts/new'],
    auditor: ['/audit'],
  };
  // pages of objects the demo makes, found through the API as the account sees them
  const resolve = {
    '@fs-assignment': async (page) => '/first-secretaries/' + (await (await page.request.get(BASE + '/api/v1/first-secretaries?status=on_duty')).json()).items[0].id,
    '@fs-round': async (page) => '/first-secretaries/rounds/' + (await (await page.request.get(BASE + '/api/v1/first-secretaries/rounds')).json())[0].id,
  };
  const failures = [];
  for (const [user, paths] of Object.entries(pages)) {
    for (const viewport of [{ width: 1366, height: 900 }, PHONE]) {
      const page = await open({ bypassCSP: true, viewport });
      await login(page, user, DEMO_PW);
      await page.waitForLoadState('networkidle');
      for (const named of paths) {
        const path = named.startsWith('@') ? await resolve[named](page) : named;
        await page.goto(BASE + path);
        await page.waitForLoadState('networkidle');
        await page.addScriptTag({ content: AXE });
        const result = await page.evaluate(async () => {
          const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
          return r.violations.map((v) => `${v.id}: ${v.nodes.length}× ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
        });
        for (const v of result) failures.push(`${user} ${viewport.width}px ${path} — ${v}`);
      }
      await page.done();
    }
  }
  const bare = await open({ bypassCSP: true });
  await bare.goto(BASE + '/login');
  await bare.addScriptTag({ content: AXE });
  const lv = await bare.evaluate(async () => (await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } })).violations.map((v) => v.id));
  for (const v of lv) failures.push(`/login — ${v}`);
  await bare.done();
  assert.deepEqual(failures, []);
});

test('a wrong password and an unknown user get the same answer', async () => {
  const page = await open();
  await login(page, 'county', 'Wrong@2026');
  const a = await page.locator('.alert').textContent();
  await login(page, 'no-such-user', 'Wrong@2026');
  const b = await page.locator('.alert').textContent();
  assert.equal(a, b);
  await shot(page, 'login');
  await page.done();
});
