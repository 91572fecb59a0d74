// The mails the worker sent to the SMTP catcher (lib/smtp-catcher.js), which scripts/browser-tests
// starts with the real api and worker binaries; KEEL_MAIL_DIR is where the catcher writes them.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MAIL_DIR = process.env.KEEL_MAIL_DIR ?? '';
if (!MAIL_DIR) throw new Error('KEEL_MAIL_DIR must be set: run scripts/browser-tests');

/** One received message. */
export class Mail {
  constructor({ from, to, data }) {
    this.from = from;
    this.to = to;
    this.data = data;
  }

  /** The message with quoted-printable soft line breaks and `=3D` undone: what a reader sees. */
  get text() {
    return this.data.replace(/=\r\n/g, '').replace(/=3D/g, '=');
  }

  /** The first link to the GUI route `route` (`verify-email`, `reset-password`) in the mail. */
  link(route) {
    const match = new RegExp(`https?://[^\\s"<>]+/#/${route}\\?token=[A-Za-z0-9_-]+`).exec(this.text);
    return match ? match[0] : null;
  }
}

/** Every mail received so far, oldest first. */
export async function mails() {
  const names = (await readdir(MAIL_DIR)).filter((name) => name.endsWith('.json') && !name.startsWith('.')).sort();
  return Promise.all(names.map(async (name) => new Mail(JSON.parse(await readFile(path.join(MAIL_DIR, name), 'utf8')))));
}

/** The mails to `to` whose Subject is `subject`, oldest first. */
export async function mailsTo(to, subject) {
  return (await mails()).filter((m) => m.to.includes(to) && m.data.split('\r\n').includes(`Subject: ${subject}`));
}

/**
 * Waits (up to `timeout` ms) until at least `count` mails to `to` with `subject` arrived, and
 * returns the newest.
 */
export async function waitForMail(to, subject, { count = 1, timeout = 30_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = await mailsTo(to, subject);
    if (found.length >= count) return found[found.length - 1];
    if (Date.now() > deadline) {
      throw new Error(`no mail #${count} to ${to} with subject “${subject}” after ${timeout} ms (${found.length} arrived)`);
    }
    await sleep(100);
  }
}
