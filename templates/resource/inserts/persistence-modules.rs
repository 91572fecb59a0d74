mod {{plural}};
