//! The value types' constructors: what they accept, and the shape of what they produce.

use keel_domain::Timestamp;
use keel_domain::paging::{LIMIT_MAX, Page, PagingError, SEARCH_MAX_CHARS, Search};
use keel_domain::post::{CONTENT_MAX_CHARS, Content, TITLE_MAX_CHARS, TextError, Title};
use keel_domain::user::{Email, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Password, PasswordError};
use proptest::prelude::*;
use std::ops::RangeInclusive;
use time::macros::datetime;
use time::{Duration, OffsetDateTime, UtcOffset};

/// Random characters per generated string: longer ones repeat them. Drawing 10 000 random
/// characters per case made the post-body property take 12 s of the domain's 18 s test run
/// (debug build), which every cargo-mutants mutant pays again; the bounds under test count
/// characters, so a repeated pattern tests them as well.
const PATTERN_MAX_CHARS: usize = 64;

/// Strings of exactly `lengths` characters, any Unicode scalar values (a random pattern of up
/// to [`PATTERN_MAX_CHARS`] of them, repeated to the length).
fn text(lengths: impl Strategy<Value = usize>) -> impl Strategy<Value = String> {
    lengths.prop_flat_map(|n| {
        prop::collection::vec(any::<char>(), n.min(PATTERN_MAX_CHARS))
            .prop_map(move |pattern| pattern.iter().cycle().take(n).collect::<String>())
    })
}

/// Lengths within `spread` of each bound of `bounds`, plus anything in between.
fn lengths_around(bounds: RangeInclusive<usize>, spread: usize) -> impl Strategy<Value = usize> {
    let (low, high) = (*bounds.start(), *bounds.end());
    prop_oneof![
        low.saturating_sub(spread)..=low + spread,
        high - spread..=high + spread,
        bounds,
    ]
}

/// Address-like strings in mixed case, with surrounding whitespace and letters whose lower
/// case is tricky (Kelvin sign, capital sharp s, sigma, dotted capital I).
fn email_like() -> impl Strategy<Value = String> {
    "[ \t\n]{0,2}[A-Za-z0-9ÄÖÜßẞΣσİK._%+'-]{1,16}@[A-Za-z0-9ÄΣ-]{1,10}(\\.[A-Za-zÄ0-9-]{1,6}){1,2}[ \t\n]{0,2}"
}

proptest! {
    /// Invariant: an accepted address is its input trimmed and lower-cased, has no surrounding
    /// whitespace and no upper case left, and parses to itself (normalisation is a fixed point).
    #[test]
    fn parsed_emails_are_trimmed_lowercase_fixed_points(
        raw in prop_oneof![email_like(), any::<String>()]
    ) {
        if let Ok(email) = Email::parse(&raw) {
            let value = email.as_str();
            prop_assert_eq!(value, raw.trim().to_lowercase());
            prop_assert_eq!(value, value.trim());
            prop_assert_eq!(value, value.to_lowercase());
            prop_assert_eq!(Email::parse(value), Ok(email.clone()));
        }
    }

    /// Invariant: a password is accepted exactly when it has 8 to 128 characters (not bytes),
    /// and is kept as typed.
    #[test]
    fn passwords_are_accepted_exactly_from_8_to_128_chars(
        raw in text(lengths_around(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS, 3))
    ) {
        let chars = raw.chars().count();
        match Password::parse(&raw) {
            Ok(password) => {
                prop_assert!((PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars));
                prop_assert_eq!(password.expose(), raw.as_str());
            }
            Err(error) => {
                let expected = if chars < PASSWORD_MIN_CHARS {
                    PasswordError::TooShort
                } else {
                    PasswordError::TooLong
                };
                prop_assert!(!(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars));
                prop_assert_eq!(error, expected);
            }
        }
    }

    /// Invariant: a title is accepted exactly when it has 1 to 200 characters and no NUL, and
    /// is kept as written.
    #[test]
    fn titles_are_accepted_exactly_from_1_to_200_chars(
        raw in text(lengths_around(1..=TITLE_MAX_CHARS, 3))
    ) {
        let chars = raw.chars().count();
        let expected = match chars {
            0 => Err(TextError::Empty),
            n if n > TITLE_MAX_CHARS => Err(TextError::TooLong(TITLE_MAX_CHARS)),
            _ if raw.contains('\0') => Err(TextError::Nul),
            _ => Ok(raw.as_str()),
        };
        let parsed = Title::parse(&raw);
        prop_assert_eq!(parsed.as_ref().map(Title::as_str), expected.as_ref().copied());
    }

    /// Invariant: a post body is accepted exactly when it has 1 to 10000 characters and no
    /// NUL, and is kept as written.
    #[test]
    fn contents_are_accepted_exactly_from_1_to_10000_chars(
        raw in text(prop_oneof![0_usize..=3, CONTENT_MAX_CHARS - 3..=CONTENT_MAX_CHARS + 3])
    ) {
        let chars = raw.chars().count();
        let expected = match chars {
            0 => Err(TextError::Empty),
            n if n > CONTENT_MAX_CHARS => Err(TextError::TooLong(CONTENT_MAX_CHARS)),
            _ if raw.contains('\0') => Err(TextError::Nul),
            _ => Ok(raw.as_str()),
        };
        let parsed = Content::parse(&raw);
        prop_assert_eq!(parsed.as_ref().map(Content::as_str), expected.as_ref().copied());
    }

    /// Invariant: [`Page::new`] accepts exactly `limit` in 1..=100 with `skip >= 0`, keeps both
    /// values, and reports the limit before the skip.
    #[test]
    fn pages_are_accepted_exactly_for_limit_1_to_100_and_non_negative_skip(
        limit in prop_oneof![-3_i64..=LIMIT_MAX + 3, any::<i64>()],
        skip in prop_oneof![-3_i64..=3, any::<i64>()],
    ) {
        let expected = if limit < 1 {
            Err(PagingError::LimitTooSmall)
        } else if limit > LIMIT_MAX {
            Err(PagingError::LimitTooLarge)
        } else if skip < 0 {
            Err(PagingError::NegativeSkip)
        } else {
            Ok((limit, skip))
        };
        prop_assert_eq!(Page::new(limit, skip).map(|page| (page.limit(), page.skip())), expected);
    }

    /// Invariant: [`Timestamp::new`] is idempotent, yields UTC in whole microseconds, drops less
    /// than a microsecond (never moving later), and its RFC 3339 text is 27 characters ending in `Z` whose
    /// fraction is the microseconds.
    #[test]
    fn timestamps_are_utc_microseconds_with_fixed_width_text(at in instants()) {
        let ts = Timestamp::new(at);
        let stored = ts.as_offset_date_time();
        prop_assert_eq!(Timestamp::new(stored), ts);
        prop_assert_eq!(stored.offset(), UtcOffset::UTC);
        prop_assert_eq!(stored.nanosecond() % 1_000, 0);
        let dropped = at - stored;
        prop_assert!(dropped >= Duration::ZERO && dropped < Duration::MICROSECOND);
        let text = ts.to_rfc3339();
        prop_assert_eq!(text.len(), 27);
        prop_assert!(text.ends_with('Z'));
        prop_assert_eq!(&text[10..11], "T");
        prop_assert_eq!(&text[20..26], format!("{:06}", stored.microsecond()));
    }

    /// Invariant: the RFC 3339 texts of two timestamps sort as the instants do (so stores and
    /// clients may compare the strings).
    #[test]
    fn timestamp_text_order_is_time_order(a in instants(), b in instants()) {
        let (a, b) = (Timestamp::new(a), Timestamp::new(b));
        prop_assert_eq!(a.to_rfc3339().cmp(&b.to_rfc3339()), a.cmp(&b));
    }

    /// Invariant: [`Search::matches`] agrees with "the lower-cased title contains the
    /// lower-cased term", and the empty search matches everything.
    #[test]
    fn search_matches_agree_with_lowercase_contains((title, term) in titles_and_terms()) {
        let search = Search::parse(&term).expect("short term");
        let model = term.is_empty() || title.to_lowercase().contains(&term.to_lowercase());
        prop_assert_eq!(search.matches(&title), model);
    }

    /// Invariant: a search term is accepted exactly up to 200 characters without NUL.
    #[test]
    fn search_terms_are_accepted_exactly_up_to_200_chars(
        raw in text(lengths_around(0..=SEARCH_MAX_CHARS, 3))
    ) {
        let accepted = raw.chars().count() <= SEARCH_MAX_CHARS && !raw.contains('\0');
        prop_assert_eq!(Search::parse(&raw).is_ok(), accepted);
    }
}

/// Instants with any offset and nanoseconds, from 0001-01-03 to 9999-12-29 (so the UTC
/// conversion stays within four-digit years), weighted towards the present.
fn instants() -> impl Strategy<Value = OffsetDateTime> {
    const FIRST: i64 = -62_135_596_800 + 2 * 86_400;
    const LAST: i64 = 253_402_300_799 - 2 * 86_400;
    (
        prop_oneof![FIRST..=LAST, 1_500_000_000_i64..=2_100_000_000],
        0_u32..1_000_000_000,
        -86_399_i32..=86_399,
    )
        .prop_map(|(seconds, nanos, offset)| {
            OffsetDateTime::from_unix_timestamp(seconds)
                .expect("in range")
                .replace_nanosecond(nanos)
                .expect("valid nanoseconds")
                .to_offset(UtcOffset::from_whole_seconds(offset).expect("valid offset"))
        })
}

/// Titles with a term that is often a case-changed piece of them, sometimes not.
fn titles_and_terms() -> impl Strategy<Value = (String, String)> {
    "[a-cA-CäÄßσΣ ]{0,16}".prop_flat_map(|title| {
        let chars: Vec<char> = title.chars().collect();
        let n = chars.len();
        let piece = (0..=n, 0..=n, any::<bool>()).prop_map(move |(a, b, upper)| {
            let piece: String = chars[a.min(b)..a.max(b)].iter().collect();
            if upper { piece.to_uppercase() } else { piece }
        });
        (Just(title), prop_oneof![piece, "[a-cA-Cß]{0,3}"])
    })
}

#[test]
fn example_an_email_is_trimmed_and_lowercased_once_and_for_all() {
    let email = Email::parse("  Alice@Example.COM\n").expect("valid");
    assert_eq!(email.as_str(), "alice@example.com");
    assert_eq!(Email::parse(email.as_str()), Ok(email));
}

#[test]
fn example_password_bounds_count_characters() {
    assert_eq!(Password::parse("1234567"), Err(PasswordError::TooShort));
    assert!(Password::parse("12345678").is_ok());
    assert!(Password::parse(&"ü".repeat(128)).is_ok());
    assert_eq!(
        Password::parse(&"ü".repeat(129)),
        Err(PasswordError::TooLong)
    );
}

#[test]
fn example_title_bounds() {
    assert_eq!(Title::parse(""), Err(TextError::Empty));
    assert!(Title::parse(&"ß".repeat(200)).is_ok());
    assert_eq!(
        Title::parse(&"a".repeat(201)),
        Err(TextError::TooLong(TITLE_MAX_CHARS))
    );
    assert_eq!(Title::parse("a\0b"), Err(TextError::Nul));
}

#[test]
fn example_content_bounds() {
    assert_eq!(Content::parse(""), Err(TextError::Empty));
    assert!(Content::parse(&"ß".repeat(10_000)).is_ok());
    assert_eq!(
        Content::parse(&"a".repeat(10_001)),
        Err(TextError::TooLong(CONTENT_MAX_CHARS))
    );
    assert_eq!(Content::parse("\0"), Err(TextError::Nul));
}

#[test]
fn example_page_bounds() {
    assert_eq!(Page::new(0, 0), Err(PagingError::LimitTooSmall));
    assert_eq!(Page::new(101, -1), Err(PagingError::LimitTooLarge));
    assert_eq!(Page::new(100, -1), Err(PagingError::NegativeSkip));
    assert_eq!(Page::new(1, 0).map(|p| (p.limit(), p.skip())), Ok((1, 0)));
}

#[test]
fn example_a_timestamp_in_another_offset_prints_in_utc() {
    let ts = Timestamp::new(datetime!(2026-11-28 13:20:45.123456789 +01:00));
    assert_eq!(ts.to_rfc3339(), "2026-11-28T12:20:45.123456Z");
    assert_eq!(ts.as_offset_date_time().nanosecond(), 123_456_000);
    assert_eq!(Timestamp::new(ts.as_offset_date_time()), ts);
}

#[test]
fn example_text_order_follows_time_order_across_years() {
    let early = Timestamp::new(datetime!(999-12-31 23:59:59.999999 UTC));
    let late = Timestamp::new(datetime!(1000-01-01 00:00:00 UTC));
    assert!(early < late && early.to_rfc3339() < late.to_rfc3339());
}

#[test]
fn example_search_ignores_case() {
    let search = Search::parse("ÄB").expect("short term");
    assert!(search.matches("xxäbyy"));
    assert!(!search.matches("xxa byy"));
    assert!(Search::parse("").expect("empty").matches("anything"));
    assert!(Search::parse(&"a".repeat(201)).is_err());
}
