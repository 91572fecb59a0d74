Self::{{Name}}Created { .. } => "{{name}}.created",
Self::{{Name}}Updated { .. } => "{{name}}.updated",
Self::{{Name}}Deleted { .. } => "{{name}}.deleted",
