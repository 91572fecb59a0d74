use keel_domain::{{name}}::{{Name}};
