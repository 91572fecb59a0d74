pub use {{plural}}::{{Plural}};
