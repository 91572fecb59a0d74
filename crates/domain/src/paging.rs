//! Paging and search bounds for collection reads.
//!
//! Invariants: `limit` is 1..=100, `skip` is non-negative, and a search term is at most
//! [`SEARCH_MAX_CHARS`] characters, so no request can ask the store for unbounded work.

/// Largest page.
pub const LIMIT_MAX: i64 = 100;
/// Default page size.
pub const LIMIT_DEFAULT: i64 = 10;
/// Longest search term, in characters.
pub const SEARCH_MAX_CHARS: usize = 200;

/// Why paging parameters are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    /// `limit` below 1.
    #[error("Input should be greater than or equal to 1")]
    LimitTooSmall,
    /// `limit` above [`LIMIT_MAX`].
    #[error("Input should be less than or equal to 100")]
    LimitTooLarge,
    /// Negative `skip`.
    #[error("Input should be greater than or equal to 0")]
    NegativeSkip,
    /// Search term longer than [`SEARCH_MAX_CHARS`].
    #[error("String should have at most 200 characters")]
    SearchTooLong,
    /// Search term with a NUL character (U+0000), which no stored text holds.
    #[error("String should not contain the NUL character")]
    SearchNul,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    limit: i64,
    skip: i64,
}

impl Page {
    /// Validates `limit` (1..=100) and `skip` (≥ 0).
    ///
    /// # Errors
    /// The first bound that fails, limit before skip.
    pub fn new(limit: i64, skip: i64) -> Result<Self, PagingError> {
        if limit < 1 {
            return Err(PagingError::LimitTooSmall);
        }
        if limit > LIMIT_MAX {
            return Err(PagingError::LimitTooLarge);
        }
        if skip < 0 {
            return Err(PagingError::NegativeSkip);
        }
        Ok(Self { limit, skip })
    }

    /// Number of items at most.
    #[must_use]
    pub const fn limit(self) -> i64 {
        self.limit
    }

    /// Items to skip first.
    #[must_use]
    pub const fn skip(self) -> i64 {
        self.skip
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: LIMIT_DEFAULT,
            skip: 0,
        }
    }
}

/// A case-insensitive title search; the empty search matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Search(String);

impl Search {
    /// Validates the length and refuses NUL; the term is matched as a literal substring.
    ///
    /// # Errors
    /// [`PagingError::SearchTooLong`] beyond [`SEARCH_MAX_CHARS`] characters,
    /// [`PagingError::SearchNul`] with a NUL character (U+0000).
    pub fn parse(raw: &str) -> Result<Self, PagingError> {
        if raw.chars().count() > SEARCH_MAX_CHARS {
            Err(PagingError::SearchTooLong)
        } else if raw.contains('\0') {
            Err(PagingError::SearchNul)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The term, or `None` when it matches everything.
    #[must_use]
    pub fn term(&self) -> Option<&str> {
        if self.0.is_empty() {
            None
        } else {
            Some(&self.0)
        }
    }

    /// Whether `title` contains the term, ignoring case — the reference semantics a store's
    /// query must reproduce.
    #[must_use]
    pub fn matches(&self, title: &str) -> bool {
        self.term()
            .is_none_or(|term| title.to_lowercase().contains(&term.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bounds() {
        assert_eq!(Page::new(0, 0), Err(PagingError::LimitTooSmall));
        assert_eq!(Page::new(101, 0), Err(PagingError::LimitTooLarge));
        assert_eq!(Page::new(10, -1), Err(PagingError::NegativeSkip));
        let page = Page::new(100, 5).expect("valid");
        assert_eq!((page.limit(), page.skip()), (100, 5));
        assert_eq!(Page::default(), Page::new(10, 0).expect("valid"));
    }

    #[test]
    fn search_is_case_insensitive_and_empty_matches_all() {
        let search = Search::parse("RuSt").expect("valid");
        assert!(search.matches("Why rust?"));
        assert!(!search.matches("Why go?"));
        assert!(Search::default().matches("anything"));
        assert_eq!(Search::default().term(), None);
        assert_eq!(
            Search::parse(&"a".repeat(201)),
            Err(PagingError::SearchTooLong)
        );
        assert_eq!(Search::parse("a\0"), Err(PagingError::SearchNul));
    }
}
