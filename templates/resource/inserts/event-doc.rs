//! | `{{name}}.created`, `{{name}}.updated`, `{{name}}.deleted` | `{{{name}}_id, owner_id}` |
