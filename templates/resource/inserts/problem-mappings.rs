impl From<{{Name}}Error> for Problem {
    fn from(error: {{Name}}Error) -> Self {
        match error {
            {{Name}}Error::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                "{{name}}_not_found",
                format!("{{Human}} with id: {id} does not exist"),
            ),
            {{Name}}Error::NotOwner(_) => Self::new(
                StatusCode::FORBIDDEN,
                "not_{{name}}_owner",
                "Not authorized to perform requested action",
            ),
            {{Name}}Error::Store(e) => e.into(),
            other => Self::internal(&other),
        }
    }
}

