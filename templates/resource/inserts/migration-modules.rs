mod {{migration}};
