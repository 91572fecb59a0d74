//! The built-in providers' authorize URLs are exactly the documented ones (each provider's own documentation), built without the network
//! (production options, no fake running).

use super::*;
use keel_testkit::oauth_fake::{APPLE_KEY_ID, APPLE_PRIVATE_KEY_PEM, APPLE_TEAM_ID};

fn production() -> HttpOptions {
    HttpOptions {
        allow_insecure: false,
        ..HttpOptions::default()
    }
}

fn settings(provider: Provider) -> ProviderSettings {
    let mut settings = ProviderSettings::new(provider, CLIENT_ID, CLIENT_SECRET);
    if provider == Provider::Apple {
        settings.client_secret = APPLE_PRIVATE_KEY_PEM.to_owned();
        settings.apple_team_id = Some(APPLE_TEAM_ID.to_owned());
        settings.apple_key_id = Some(APPLE_KEY_ID.to_owned());
    }
    settings
}

#[tokio::test]
async fn built_in_authorize_urls_match_the_spec() {
    let table = [
        (
            Provider::Google,
            "Google",
            "https://accounts.google.com/o/oauth2/v2/auth",
            "openid email profile",
            true,
        ),
        (
            Provider::Microsoft,
            "Microsoft",
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "openid profile email",
            true,
        ),
        (
            Provider::Apple,
            "Apple",
            "https://appleid.apple.com/auth/authorize",
            "openid email name",
            true,
        ),
        (
            Provider::Facebook,
            "Facebook",
            "https://www.facebook.com/v19.0/dialog/oauth",
            "email public_profile",
            false,
        ),
        (
            Provider::Github,
            "GitHub",
            "https://github.com/login/oauth/authorize",
            "read:user user:email",
            false,
        ),
    ];
    let all: Vec<ProviderSettings> = table.iter().map(|row| settings(row.0)).collect();
    let built = build(&all, &production()).expect("valid settings");
    assert_eq!(built.len(), table.len());
    for ((provider, display, base, scope, openid), built) in table.into_iter().zip(built) {
        assert_eq!(built.provider(), provider);
        assert_eq!(built.display_name(), display);
        let url = built
            .authorize_url(&authorize_request())
            .await
            .expect("no network needed");
        let (origin_and_path, _) = url.split_once('?').expect("a query");
        assert_eq!(origin_and_path, base, "{provider}");
        let mut expected: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", STATE),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if openid {
            expected.push(("nonce".to_owned(), NONCE.to_owned()));
        }
        if provider == Provider::Apple {
            expected.push(("response_mode".to_owned(), "form_post".to_owned()));
        }
        assert_eq!(query(&url), expected, "{provider}");
    }
}
