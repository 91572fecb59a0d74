pub use {{plural}}::Sea{{Plural}};
