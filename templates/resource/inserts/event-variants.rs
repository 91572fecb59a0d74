/// {{A_human}} was created.
{{Name}}Created {
    /// The {{human}}.
    {{name}}_id: crate::{{name}}::{{Name}}Id,
    /// Its owner.
    owner_id: UserId,
},
/// {{A_human}} was replaced.
{{Name}}Updated {
    /// The {{human}}.
    {{name}}_id: crate::{{name}}::{{Name}}Id,
    /// Its owner.
    owner_id: UserId,
},
/// {{A_human}} was deleted.
{{Name}}Deleted {
    /// The {{human}}.
    {{name}}_id: crate::{{name}}::{{Name}}Id,
    /// Its owner.
    owner_id: UserId,
},
