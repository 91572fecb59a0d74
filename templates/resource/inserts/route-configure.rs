{{plural}}::configure(cfg);
