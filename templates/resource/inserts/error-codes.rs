/// 404: no {{human}} has this id.
{{Name}}NotFound = "{{name}}_not_found",
/// 403: the {{human}} belongs to someone else.
Not{{Name}}Owner = "not_{{name}}_owner",
