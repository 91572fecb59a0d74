//! The browser GUI (README, "Browser GUI"): the files under `frontend/` at the repository root, embedded in
//! the binary at compile time and served at `/` (the page) and `/static/{file}` (its modules,
//! style sheet and icon), so the release binary alone serves it — no build step, no CDN.
//!
//! Invariants:
//! - Only the files listed in [`STATIC_FILES`] are served; any other name is a 404 problem, so
//!   nothing else on disk can ever be reached (a test checks the list matches `frontend/`).
//! - Every response carries a strong `ETag` (a hash of the file's bytes, computed once per
//!   process) and `Cache-Control: no-cache`: browsers keep a copy but revalidate it on each
//!   load, so a new release shows at once and an unchanged file costs a bodiless 304.
//!   Content-hashed file names would allow `immutable` caching instead, but the GUI's ES
//!   modules import each other by name, and rewriting those imports needs the build step the
//!   GUI deliberately does not have (an import map would be an inline script, which the CSP
//!   forbids).
//! - The GUI has no inline script and no event-handler attributes, so it works under the
//!   application's Content-Security-Policy (`script-src 'self'`), which the security-header
//!   middleware sends on every response, these included: the one copy of that policy is
//!   `hardening::DEFAULT_CSP`. The browser tests check the page under it.

use crate::HttpSettings;
use crate::problem::Problem;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag, Header, HeaderValue, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::LazyLock;

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// One embedded file.
struct Embedded {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Embeds `frontend/<name>` (the path is relative to this crate, so it holds on any checkout).
macro_rules! embed {
    ($name:literal, $content_type:expr) => {
        Embedded {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../frontend/",
                $name
            )),
        }
    };
}

const INDEX: Embedded = embed!("index.html", HTML);

/// Every file served under `/static/`. Adding a file to `frontend/` means adding it here.
const STATIC_FILES: &[Embedded] = &[
    embed!("app.css", CSS),
    embed!("app.js", JAVASCRIPT),
    embed!("api.js", JAVASCRIPT),
    embed!("dom.js", JAVASCRIPT),
    embed!("error-codes.js", JAVASCRIPT),
    embed!("events.js", JAVASCRIPT),
    embed!("mail-links.js", JAVASCRIPT),
    embed!("oauth.js", JAVASCRIPT),
    embed!("tokens.js", JAVASCRIPT),
    embed!("icon.svg", SVG),
];

/// An embedded file with its validator.
struct Served {
    file: &'static Embedded,
    etag: EntityTag,
}

impl Served {
    fn new(file: &'static Embedded) -> Self {
        Self {
            file,
            etag: EntityTag::new_strong(format!("{:016x}", fnv1a(file.body))),
        }
    }
}

static SERVED_INDEX: LazyLock<Served> = LazyLock::new(|| Served::new(&INDEX));
static SERVED_STATIC: LazyLock<Vec<Served>> =
    LazyLock::new(|| STATIC_FILES.iter().map(Served::new).collect());

/// 64-bit FNV-1a: a stable, dependency-free fingerprint of a file's bytes. Not a security
/// measure — the ETag only has to change when the file does.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `GET /` when the frontend pack is enabled: the page.
pub(crate) fn index(req: &HttpRequest) -> HttpResponse {
    respond(req, &SERVED_INDEX)
}

/// `GET /static/{file}`: a module, the style sheet or the icon; 404 when the frontend pack is
/// disabled or the name is unknown.
pub(crate) async fn asset(
    req: HttpRequest,
    settings: web::Data<HttpSettings>,
) -> Result<HttpResponse, Problem> {
    let name = req.match_info().get("file").unwrap_or_default();
    let served = SERVED_STATIC
        .iter()
        .find(|s| s.file.name == name)
        .filter(|_| settings.frontend_enabled)
        .ok_or_else(|| Problem::for_status(StatusCode::NOT_FOUND))?;
    Ok(respond(&req, served))
}

/// 200 with the file, or 304 when the client's copy is current (weak comparison, as RFC 9110
/// prescribes for `If-None-Match`).
fn respond(req: &HttpRequest, served: &Served) -> HttpResponse {
    let fresh = match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&served.etag)),
        Err(_) => false,
    };
    let mut builder = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    builder
        .insert_header(header::ETag(served.etag.clone()))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    if fresh {
        builder.finish()
    } else {
        builder
            .content_type(served.file.content_type)
            .body(served.file.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_file_under_frontend_is_embedded_and_nothing_else() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../frontend");
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .expect("frontend/ exists")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let embedded: BTreeSet<String> = std::iter::once(&INDEX)
            .chain(STATIC_FILES)
            .map(|f| f.name.to_owned())
            .collect();
        assert_eq!(
            on_disk, embedded,
            "frontend/ and STATIC_FILES must list the same files"
        );
    }

    #[test]
    fn fingerprints_differ_when_bytes_differ() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a(b"app.js v1"), fnv1a(b"app.js v2"));
    }
}
