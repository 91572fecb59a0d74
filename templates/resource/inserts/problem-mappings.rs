impl From<{{Name}}Error> for Problem {
    fn from(error: {{Name}}Error) -> Self {
        match error {
            {{Name}}Error::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::{{Name}}NotFound,
                format!("{{Human}} with id: {id} does not exist"),
            ),
            {{Name}}Error::NotOwner(_) => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Not{{Name}}Owner,
                "Not authorized to perform requested action",
            ),
            {{Name}}Error::Store(e) => e.into(),
        }
    }
}

