pub mod {{plural}};
