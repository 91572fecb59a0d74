pub mod {{name}};
