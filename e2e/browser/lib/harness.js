// Shared set-up of the browser tests: Debian's Chromium through playwright-core, pages that
// record every console error, page error and CSP violation, and small helpers for the GUI and
// the API. scripts/browser-tests starts the api (fresh SQLite database) and sets KEEL_BASE_URL
// and KEEL_SECRET_KEY.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.KEEL_BASE_URL ?? '';
export const SECRET_KEY = process.env.KEEL_SECRET_KEY ?? '';
const SCREENSHOTS_DIR = process.env.KEEL_SCREENSHOTS_DIR ?? '';
if (!BASE_URL || !SECRET_KEY) {
  throw new Error('KEEL_BASE_URL and KEEL_SECRET_KEY must be set: run scripts/browser-tests');
}

export const PASSWORD = 'correct horse battery';

/** The policy agreed for the whole application (keel_http::hardening::DEFAULT_CSP). */
export const AGREED_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; " +
  "base-uri 'none'; form-action 'self'; object-src 'none'";

// Flags that work on this machine (see the env notes): root needs --no-sandbox, and the closed
// network refuses Chromium's background connections.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

/** Chrome reports every 4xx answer of fetch() as a console error; the GUI handles those. */
function isHandledApiStatus({ text, url }) {
  return (
    /^Failed to load resource: the server responded with a status of 4\d\d/.test(text) &&
    url.startsWith(`${BASE_URL}/api/`)
  );
}

/**
 * A new browser context (its own sessionStorage: another device, as far as the server can
 * tell) with one page, recording what would show in the developer console.
 */
export async function openPage(browser, { viewport = { width: 1280, height: 900 } } = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport });
  const record = { consoleErrors: [], pageErrors: [], cspViolations: [] };
  await context.exposeFunction('__reportCspViolation', (line) => record.cspViolations.push(line));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__reportCspViolation(`${event.effectiveDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') record.consoleErrors.push({ text: message.text(), url: message.location().url ?? '' });
  });
  page.on('pageerror', (error) => record.pageErrors.push(String(error)));
  // Deleting asks for confirmation with window.confirm: say yes.
  page.on('dialog', (dialog) => dialog.accept());
  return {
    context,
    page,
    record,
    /** Console errors other than the API's handled 4xx answers. */
    unexpectedConsoleErrors: () => record.consoleErrors.filter((e) => !isHandledApiStatus(e)),
  };
}

/** Fails when the page logged an error, threw, or violated the CSP. */
export function assertClean(session, label = 'page') {
  assert.deepEqual(session.record.pageErrors, [], `${label}: uncaught errors`);
  assert.deepEqual(session.record.cspViolations, [], `${label}: CSP violations`);
  assert.deepEqual(session.unexpectedConsoleErrors(), [], `${label}: console errors`);
}

/** Waits until no API call is in flight. */
export async function idle(page) {
  await page.waitForFunction(() => (document.documentElement.dataset.pending ?? '0') === '0');
}

/** Waits for the green status line to read `text` (a substring). */
export async function statusShows(page, text) {
  await page.locator('#status').filter({ hasText: text }).waitFor();
}

/** Waits for the error banner to read `text` (a substring) and returns its text. */
export async function errorShows(page, text) {
  const banner = page.getByRole('alert').filter({ hasText: text });
  await banner.waitFor();
  return banner.innerText();
}

export async function view(page, name) {
  await page.locator(`body[data-view="${name}"]`).waitFor();
}

export async function registerViaGui(page, email, password = PASSWORD) {
  await page.goto('/');
  await view(page, 'signed-out');
  const form = page.locator('#register-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Register and log in' }).click();
  await view(page, 'signed-in');
  await statusShows(page, 'your account is ready');
  await idle(page);
}

export async function logInViaGui(page, email, password = PASSWORD) {
  await page.goto('/');
  await view(page, 'signed-out');
  const form = page.locator('#login-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Log in' }).click();
  await view(page, 'signed-in');
  await idle(page);
}

/** Writes a post with the composer and waits for the confirmation. */
export async function composePost(page, { title, content, published = true }) {
  const form = page.locator('#post-form');
  await form.getByLabel('Title').fill(title);
  await form.getByLabel('Content').fill(content);
  await form.getByLabel('Published').setChecked(published);
  await form.getByRole('button', { name: 'Publish' }).click();
  await statusShows(page, published ? `Published “${title}”` : `Saved the draft “${title}”`);
  await idle(page);
}

/** Searches the feed by title and waits for the answer. */
export async function search(page, text, perPage = '10') {
  const form = page.locator('#search-form');
  await form.getByLabel('Search titles').fill(text);
  await form.getByLabel('Per page').selectOption(perPage);
  const answered = page.waitForResponse((r) => r.url().includes('/api/v1/posts?') && r.request().method() === 'GET');
  await form.getByRole('button', { name: 'Search' }).click();
  await answered;
  await idle(page);
}

/** The feed item whose title is exactly `title`. */
export function postItem(page, title) {
  return page.locator('#posts > li').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

/** The tokens this tab keeps (sessionStorage mirrors memory). */
export async function storedTokens(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('keel.tokens') ?? 'null'));
}

/** Calls the API directly (not through the GUI). */
export async function api(method, pathname, { token, json, form } = {}) {
  const headers = {};
  let body;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  const response = await fetch(`${BASE_URL}${pathname}`, { method, headers, body });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed };
}

function base64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/**
 * Re-signs the claims of a real access token with `changes` applied (HS256, the key the api
 * runs with): the way to make an access token expire now instead of in an hour.
 */
export function resign(token, changes) {
  const [header, payload] = token.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), ...changes };
  const headerJson = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  assert.equal(headerJson.alg, 'HS256', 'the api signs with HS256 in these tests');
  const signingInput = `${header}.${base64url(claims)}`;
  const signature = createHmac('sha256', SECRET_KEY).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

/** Saves a screenshot under docs/screenshots when scripts/browser-tests --screenshots ran. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  if (!SCREENSHOTS_DIR) return;
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS_DIR, `${name}.png`), fullPage });
}
