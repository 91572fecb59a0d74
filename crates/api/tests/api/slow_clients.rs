//! The request-body deadline (`REQUEST_BODY_TIMEOUT_SECONDS`) through the real app, with a raw
//! TCP client that sends a request head and then trickles its body: the answer is a 408
//! problem once the deadline passes, and the server closes the connection.

use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the trickling client saw.
pub(crate) struct Trickled {
    /// The response head and body as received.
    pub response: String,
    /// From the end of the head to the response.
    pub answered_after: Duration,
    /// From the response to the server closing the connection (`None`: still open after 15 s).
    pub closed_after: Option<Duration>,
}

/// Sends `head`, then one byte of `body` every 250 ms (never all of it), and reads the answer.
pub(crate) async fn trickle(addr: SocketAddr, head: &str, body: &[u8]) -> Trickled {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.expect("send head");
    let sent_head = Instant::now();
    let body = body.to_vec();
    let trickler = tokio::spawn(async move {
        // One byte short of the whole body: the request can only end by the deadline.
        for byte in &body[..body.len() - 1] {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    let bounded = Duration::from_secs(15);
    let mut answered_after = None;
    let mut closed_after = None;
    let started = Instant::now();
    while started.elapsed() < bounded {
        match tokio::time::timeout(bounded - started.elapsed(), reader.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(n)) => {
                if received.is_empty() {
                    answered_after = Some(sent_head.elapsed());
                }
                received.extend_from_slice(&buf[..n]);
            }
            Err(_) => break,
        }
    }
    trickler.abort();
    let answered_after = answered_after.expect("no response within 15 s");
    Trickled {
        response: String::from_utf8_lossy(&received).into_owned(),
        answered_after,
        closed_after: closed_after.map(|at| at.saturating_sub(answered_after)),
    }
}

fn json_body(len: usize) -> Vec<u8> {
    let mut body = br#"{"email":"slow@example.com","password":"password1","pad":""#.to_vec();
    body.resize(len - 2, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

fn assert_408_problem(seen: &Trickled, what: &str) {
    let response = &seen.response;
    assert!(response.starts_with("HTTP/1.1 408"), "{what}: {response}");
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{what}: {response}"
    );
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let problem: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {response}"));
    assert_eq!(problem["error_code"], "request_timeout", "{what}");
    assert_eq!(problem["status"], 408, "{what}");
    for member in ["title", "detail", "instance", "trace_id"] {
        assert!(problem[member].is_string(), "{what}: no {member}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_past_its_deadline_is_a_408_problem_and_the_connection_is_closed() {
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[("REQUEST_BODY_TIMEOUT_SECONDS", "1")],
    )
    .await;
    let addr: SocketAddr = app
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let json = json_body(64);
    let form = b"username=slow%40example.com&password=password1&pad=xxxxxxxxxxxxxxxxxxxxx".to_vec();
    let cases = [
        // A JSON body read by the handler's extractor.
        (
            "register",
            format!(
                "POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                json.len()
            ),
            json.clone(),
        ),
        // A login form, read first by the rate limiter (it charges the account named).
        (
            "login",
            format!(
                "POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                form.len()
            ),
            form,
        ),
        // Chunked: one chunk announced, its bytes trickled.
        (
            "chunked",
            "POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n".to_owned(),
            json,
        ),
    ];
    for (what, head, body) in cases {
        let seen = trickle(addr, &head, &body).await;
        println!(
            "{what}: answered after {:?}, closed {:?} later",
            seen.answered_after, seen.closed_after
        );
        assert_408_problem(&seen, what);
        assert!(
            seen.answered_after >= Duration::from_millis(950)
                && seen.answered_after < Duration::from_secs(8),
            "{what}: answered after {:?}",
            seen.answered_after
        );
        // Closed, not kept alive for the rest of the body (the client would go on for 16 s):
        // after the 5 s the server gives a client to close after a response, plus slack.
        let closed = seen
            .closed_after
            .unwrap_or_else(|| panic!("{what}: connection still open 15 s in"));
        assert!(
            closed < Duration::from_secs(9),
            "{what}: closed after {closed:?}"
        );
    }
    // The server is not worse for it.
    assert_eq!(app.get("/health", None).await.status, 200);
    let user = app.user("after").await;
    assert!(!user.access.is_empty());
}
