routes.extend(super::{{plural}}::routes());
