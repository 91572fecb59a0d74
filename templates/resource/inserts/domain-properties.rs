mod {{name}};
