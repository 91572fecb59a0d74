//! A tiny in-process SMTP server that records every message it is handed: enough SMTP for a
//! client such as `lettre` (`EHLO`/`HELO`, `MAIL`, `RCPT`, `DATA` with dot-unstuffing, `RSET`,
//! `NOOP`, `QUIT`), no TLS, no authentication. Start it, point `SMTP_URL` at
//! [`SmtpSink::url`], then wait for mails with [`SmtpSink::wait_for`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent after `DATA` (headers and body, CRLF line ends, unstuffed).
    pub data: String,
}

impl ReceivedMail {
    /// The message with quoted-printable undone as far as keel's ASCII mails need it (soft
    /// line breaks and `=3D`): what a mail client shows.
    #[must_use]
    pub fn text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The first `token=<value>` in the message as shown (the value's URL-safe characters).
    #[must_use]
    pub fn token(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("token=")? + "token=".len();
        let token: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!token.is_empty()).then_some(token)
    }
}

/// The running sink; it stops when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts the sink on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("local address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let recorded = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, recorded.clone()));
            }
        });
        Self { port, mails, task }
    }

    /// `smtp://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in arrival order.
    ///
    /// # Panics
    /// When the record's lock is poisoned.
    #[must_use]
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().expect("mails").clone()
    }

    /// Waits up to `timeout` for a message to `recipient` whose text contains `needle`
    /// (e.g. a subject), and returns the newest one.
    ///
    /// # Panics
    /// When none arrives in time.
    pub async fn wait_for(&self, recipient: &str, needle: &str, timeout: Duration) -> ReceivedMail {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .mails()
                .into_iter()
                .rev()
                .find(|m| m.to.iter().any(|t| t == recipient) && m.text().contains(needle));
            if let Some(mail) = found {
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {recipient} containing {needle:?} within {timeout:?}; received: {:?}",
                self.mails()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The address between `<` and `>` of a `MAIL FROM:` / `RCPT TO:` argument.
fn address(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..]
        .find('>')
        .map_or(argument.len(), |i| start + i);
    argument[start..end].trim().to_owned()
}

async fn session(stream: TcpStream, mails: Arc<Mutex<Vec<ReceivedMail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut reply = async |text: &str| write.write_all(format!("{text}\r\n").as_bytes()).await;
    if reply("220 keel-testkit SMTP sink").await.is_err() {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            "250-keel-testkit\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
        } else if upper.starts_with("HELO") {
            "250 keel-testkit".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&line["MAIL FROM:".len()..]);
            to.clear();
            "250 OK".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&line["RCPT TO:".len()..]));
            "250 OK".to_owned()
        } else if upper == "DATA" {
            if reply("354 end with <CRLF>.<CRLF>").await.is_err() {
                return;
            }
            let mut data = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                let line = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(line);
                data.push_str("\r\n");
            }
            if let Ok(mut record) = mails.lock() {
                record.push(ReceivedMail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
            }
            "250 OK: queued".to_owned()
        } else if upper == "QUIT" {
            let _ = reply("221 bye").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK".to_owned()
        } else {
            "502 command not implemented".to_owned()
        };
        if reply(&answer).await.is_err() {
            return;
        }
    }
}
