// A local SMTP catcher for the browser tests: scripts/browser-tests starts it before the worker
// (`node lib/smtp-catcher.js <port> <dir>`), the worker sends its mails here over plain SMTP
// (`SMTP_URL=smtp://127.0.0.1:<port>`), and every accepted message is written to <dir> as one
// JSON file `{from, to, data}` (renamed into place, so a reader never sees half a file). The
// tests read them with mail.js. Enough SMTP for a client sending to a catcher: EHLO/HELO, MAIL,
// RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT; no TLS, no authentication.

import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const [port, dir] = process.argv.slice(2);
if (!port || !dir) {
  console.error('usage: node lib/smtp-catcher.js <port> <dir>');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });

/** The address inside `MAIL FROM:<…>` / `RCPT TO:<…>`. */
function address(argument) {
  const match = /<([^>]*)>/.exec(argument);
  return (match ? match[1] : argument.replace(/^[A-Z ]+:/i, '')).trim();
}

function save(envelope, lines) {
  const name = `${Date.now()}-${randomUUID()}.json`;
  const temporary = path.join(dir, `.${name}`);
  writeFileSync(temporary, JSON.stringify({ from: envelope.from, to: envelope.to, data: lines.join('\r\n') }));
  renameSync(temporary, path.join(dir, name));
}

const server = net.createServer((socket) => {
  socket.setEncoding('utf8');
  let envelope = { from: '', to: [] };
  let data = null; // the message lines while in DATA, else null
  let buffered = '';
  const reply = (line) => socket.write(`${line}\r\n`);
  reply('220 keel-smtp-catcher ESMTP');
  socket.on('data', (chunk) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\r\n')) !== -1) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (data !== null) {
        if (line === '.') {
          save(envelope, data);
          data = null;
          envelope = { from: '', to: [] };
          reply('250 2.0.0 accepted');
        } else {
          data.push(line.startsWith('..') ? line.slice(1) : line);
        }
        continue;
      }
      const verb = line.slice(0, 4).toUpperCase();
      switch (verb) {
        case 'EHLO':
          reply('250-keel-smtp-catcher');
          reply('250 8BITMIME');
          break;
        case 'HELO':
          reply('250 keel-smtp-catcher');
          break;
        case 'MAIL':
          envelope = { from: address(line.slice(5)), to: [] };
          reply('250 2.1.0 ok');
          break;
        case 'RCPT':
          envelope.to.push(address(line.slice(5)));
          reply('250 2.1.5 ok');
          break;
        case 'DATA':
          data = [];
          reply('354 end with <CRLF>.<CRLF>');
          break;
        case 'RSET':
          envelope = { from: '', to: [] };
          reply('250 2.0.0 ok');
          break;
        case 'NOOP':
          reply('250 2.0.0 ok');
          break;
        case 'QUIT':
          reply('221 2.0.0 bye');
          socket.end();
          break;
        default:
          reply('502 5.5.2 not implemented');
      }
    }
  });
  socket.on('error', () => socket.destroy());
});

server.listen(Number(port), '127.0.0.1', () => console.log(`smtp catcher on 127.0.0.1:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
