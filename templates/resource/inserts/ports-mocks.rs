#[cfg(feature = "mocks")]
pub use {{plural}}::Mock{{Plural}};
