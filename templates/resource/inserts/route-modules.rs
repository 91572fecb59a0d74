pub(crate) mod {{plural}};
