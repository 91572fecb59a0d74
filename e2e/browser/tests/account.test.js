// Email verification and password reset end to end: the real api and worker binaries
// (scripts/browser-tests), the worker mailing to the local SMTP catcher, the links read from
// those mails and opened in the GUI. Also the API-level acceptance of the two flows that needs
// the real binaries: tokens that are reused, tampered with or expired are 400 problems, and a
// reset request for an unknown address answers 202 as fast as for a known one.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  BASE_URL,
  PASSWORD,
  api,
  assertClean,
  errorShows,
  idle,
  launchBrowser,
  logInViaGui,
  openPage,
  registerViaGui,
  screenshot,
  statusShows,
  storedTokens,
  view,
} from '../lib/harness.js';
import { mailsTo, waitForMail } from '../lib/mail.js';

const VERIFY_SUBJECT = 'Verify your email address';
const RESET_SUBJECT = 'Reset your password';
const NEW_PASSWORD = 'a brand new passphrase';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** A fresh address per test run and name (the database lives as long as the api). */
function address(name) {
  return `${name}-${Date.now().toString(36)}@example.com`;
}

async function register(email) {
  const res = await api('POST', '/api/v1/users', { json: { email, password: PASSWORD } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

async function login(email, password = PASSWORD) {
  return api('POST', '/api/v1/login', { form: { username: email, password } });
}

/** The token of a link, changed in its first character (still well-formed, never valid). */
function tampered(link) {
  const url = new URL(link);
  const token = new URLSearchParams(url.hash.slice(url.hash.indexOf('?') + 1)).get('token');
  const flipped = token.startsWith('A') ? 'B' : 'A';
  return link.replace(`token=${token}`, `token=${flipped}${token.slice(1)}`);
}

/** Makes every mailed token of `email` expire, in the api's SQLite database. */
function expireTokens(email) {
  execFileSync('python3', [
    '-c',
    `import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
with db:
    db.execute("UPDATE email_tokens SET expires_at = '2000-01-01T00:00:00.000000Z' "
               "WHERE user_id = (SELECT id FROM users WHERE email = ?)", (sys.argv[2],))
db.close()`,
    process.env.KEEL_DATABASE_PATH,
    email,
  ]);
}

const badge = (page) => page.locator('#email-badge');
const newPassword = (page) => page.locator('#reset-form').getByLabel('New password');
const addressBarHasNoToken = (page) => assert.ok(!page.url().includes('token='), page.url());

describe('email verification', () => {
  test('registration mails a link; opening it verifies the address and the badge turns', async () => {
    const email = address('vera');
    const session = await openPage(browser);
    const { page } = session;
    await registerViaGui(page, email);
    assert.equal(await badge(page).innerText(), 'Not verified');
    assert.ok(await page.locator('#verify-prompt').isVisible());
    await screenshot(page, 'email-not-verified');

    const mail = await waitForMail(email, VERIFY_SUBJECT);
    assert.equal(mail.from, 'no-reply@keel.test');
    assert.match(mail.data, /text\/plain/);
    assert.match(mail.data, /text\/html/);
    const link = mail.link('verify-email');
    assert.ok(link?.startsWith(`${BASE_URL}/#/verify-email?token=`), mail.text);

    // The GUI is open in this tab: the link changes only the fragment.
    await page.goto(link);
    await view(page, 'verify-email');
    await page.locator('#verify-result').filter({ hasText: 'Your email address is verified.' }).waitFor();
    addressBarHasNoToken(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await view(page, 'signed-in');
    await idle(page);
    assert.equal(await badge(page).innerText(), 'Verified');
    assert.ok(await page.locator('#verify-prompt').isHidden());
    const me = await api('GET', '/api/v1/users/me', { token: (await storedTokens(page)).access_token });
    assert.equal(me.body.email_verified, true);
    assertClean(session);

    // The same link again, in a new browser: used, so refused, and nothing is signed in.
    const other = await openPage(browser);
    await other.page.goto(link);
    await view(other.page, 'verify-email');
    await other.page.locator('#verify-result').filter({ hasText: 'invalid, expired or already used' }).waitFor();
    await errorShows(other.page, 'Invalid or expired verification token');
    addressBarHasNoToken(other.page);
    await other.page.getByRole('button', { name: 'Continue' }).click();
    await view(other.page, 'signed-out');
    assertClean(other);
    await session.context.close();
    await other.context.close();
  });

  test('the resend button mails a new link, which works when opened in a new tab', async () => {
    const email = address('resa');
    await register(email);
    await waitForMail(email, VERIFY_SUBJECT);
    const session = await openPage(browser);
    const { page } = session;
    await logInViaGui(page, email);
    assert.equal(await badge(page).innerText(), 'Not verified');
    await page.getByRole('button', { name: 'Resend the verification email' }).click();
    await statusShows(page, `A new verification link is on its way to ${email}.`);
    const mail = await waitForMail(email, VERIFY_SUBJECT, { count: 2 });

    const tab = await session.context.newPage();
    await tab.goto(mail.link('verify-email'));
    await view(tab, 'verify-email');
    await tab.locator('#verify-result').filter({ hasText: 'Your email address is verified.' }).waitFor();
    addressBarHasNoToken(tab);

    await page.reload();
    await view(page, 'signed-in');
    await idle(page);
    assert.equal(await badge(page).innerText(), 'Verified');
    assertClean(session);
    await session.context.close();
  });
});

describe('password reset', () => {
  test('the mailed link sets a new password, verifies the email and ends every session', async () => {
    const email = address('rosa');
    await register(email);
    const first = (await login(email)).body;
    const second = (await login(email)).body;
    const laptop = await openPage(browser);
    await logInViaGui(laptop.page, email);

    // Asked for on the sign-in page of another browser.
    const phone = await openPage(browser);
    const { page } = phone;
    await page.goto('/');
    await view(page, 'signed-out');
    const form = page.locator('#forgot-form');
    await form.getByLabel('Email').fill(email);
    await form.getByRole('button', { name: 'Email me a reset link' }).click();
    await statusShows(page, `If ${email} has an account here, a link to reset its password is on its way.`);

    const mail = await waitForMail(email, RESET_SUBJECT);
    const link = mail.link('reset-password');
    assert.ok(link?.startsWith(`${BASE_URL}/#/reset-password?token=`), mail.text);

    // A tampered link is refused and changes nothing.
    await page.goto(tampered(link));
    await view(page, 'reset-password');
    addressBarHasNoToken(page);
    await newPassword(page).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await errorShows(page, 'This reset link is invalid, expired or already used');
    assert.equal((await login(email)).status, 200, 'the old password still works');

    await page.goto(link);
    await view(page, 'reset-password');
    addressBarHasNoToken(page);
    await screenshot(page, 'reset-password');
    await newPassword(page).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await statusShows(page, 'Your password is changed and every session is signed out');
    await view(page, 'signed-out');

    // The old password is refused, the new one works, and the mail proved the address.
    const old = await login(email);
    assert.equal(old.status, 403);
    assert.equal(old.body.error_code, 'invalid_credentials');
    await logInViaGui(page, email, NEW_PASSWORD);
    assert.equal(await badge(page).innerText(), 'Verified');

    // Every earlier session is over: its access and refresh tokens answer 401 …
    for (const pair of [first, second]) {
      const me = await api('GET', '/api/v1/users/me', { token: pair.access_token });
      assert.equal(me.status, 401);
      const refreshed = await api('POST', '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } });
      assert.equal(refreshed.status, 401);
    }
    // … and the GUI that was signed in elsewhere finds itself signed out at its next call.
    await laptop.page.getByRole('button', { name: 'Reload' }).click();
    await view(laptop.page, 'signed-out');
    await errorShows(laptop.page, 'Your session has ended');

    // The link works once.
    const again = await openPage(browser);
    await again.page.goto(link);
    await view(again.page, 'reset-password');
    await newPassword(again.page).fill('yet another passphrase');
    await again.page.getByRole('button', { name: 'Set the new password' }).click();
    await errorShows(again.page, 'This reset link is invalid, expired or already used');
    await again.page.getByRole('button', { name: 'Cancel' }).click();
    await view(again.page, 'signed-out');
    assert.equal((await login(email, NEW_PASSWORD)).status, 200);

    for (const session of [laptop, phone, again]) {
      assertClean(session);
      await session.context.close();
    }
  });
});

describe('the account routes of the real binaries', () => {
  test('expired and tampered tokens are 400 problems and change nothing', async () => {
    const email = address('exta');
    await register(email);
    const verifyLink = (await waitForMail(email, VERIFY_SUBJECT)).link('verify-email');
    const verifyToken = new URL(verifyLink).hash.split('token=')[1];
    const tamperedToken = new URL(tampered(verifyLink)).hash.split('token=')[1];
    const refused = await api('POST', '/api/v1/auth/verify-email', { json: { token: tamperedToken } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error_code, 'invalid_verification_token');

    assert.equal((await api('POST', '/api/v1/auth/password-reset', { json: { email } })).status, 202);
    const resetToken = new URL((await waitForMail(email, RESET_SUBJECT)).link('reset-password')).hash.split('token=')[1];
    expireTokens(email);
    const verify = await api('POST', '/api/v1/auth/verify-email', { json: { token: verifyToken } });
    assert.equal(verify.status, 400);
    assert.equal(verify.body.error_code, 'invalid_verification_token');
    const reset = await api('POST', '/api/v1/auth/password-reset/confirm', {
      json: { token: resetToken, new_password: NEW_PASSWORD },
    });
    assert.equal(reset.status, 400);
    assert.equal(reset.body.error_code, 'invalid_reset_token');

    const pair = (await login(email)).body;
    const me = await api('GET', '/api/v1/users/me', { token: pair.access_token });
    assert.equal(me.body.email_verified, false, 'the expired verification changed nothing');
  });

  test('a reset request answers 202 for an unknown address as fast as for a known one, and mails nothing', async () => {
    const known = address('tima');
    const unknown = address('nobody');
    await register(known);
    const elapsed = { [known]: [], [unknown]: [] };
    const rounds = 21;
    for (let i = 0; i < rounds; i += 1) {
      // Alternating, so drift on the machine hits both alike.
      for (const email of i % 2 === 0 ? [known, unknown] : [unknown, known]) {
        const started = performance.now();
        const res = await api('POST', '/api/v1/auth/password-reset', { json: { email } });
        elapsed[email].push(performance.now() - started);
        assert.equal(res.status, 202, JSON.stringify(res.body));
        assert.equal(res.body, null, 'an empty body either way');
      }
    }
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const quartiles = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      return [sorted[Math.floor(sorted.length / 4)], sorted[Math.floor((sorted.length * 3) / 4)]];
    };
    const [q1, q3] = quartiles([...elapsed[known], ...elapsed[unknown]]);
    const noise = Math.max(q3 - q1, 1); // the spread of all answers, at least a millisecond
    const gap = Math.abs(median(elapsed[known]) - median(elapsed[unknown]));
    assert.ok(
      gap <= noise,
      `median ${median(elapsed[known]).toFixed(2)} ms (known) vs ${median(elapsed[unknown]).toFixed(2)} ms (unknown): ` +
        `a gap of ${gap.toFixed(2)} ms beyond the noise (${noise.toFixed(2)} ms)`,
    );

    // Every request for the known address is mailed; none for the unknown one.
    await waitForMail(known, RESET_SUBJECT, { count: rounds });
    assert.equal((await mailsTo(unknown, RESET_SUBJECT)).length, 0);
  });
});
