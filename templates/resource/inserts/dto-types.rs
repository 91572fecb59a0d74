
/// `{{Name}}`: {{a_human}} as stored.
#[derive(Debug, Serialize)]
pub struct {{Name}}Out {
    id: i64,
    name: String,
    description: String,
    owner_id: i64,
    created_at: String,
    updated_at: String,
}

impl From<&{{Name}}> for {{Name}}Out {
    fn from(x: &{{Name}}) -> Self {
        Self {
            id: x.id.get(),
            name: x.name.as_str().to_owned(),
            description: x.description.as_str().to_owned(),
            owner_id: x.owner_id.get(),
            created_at: x.created_at.to_rfc3339(),
            updated_at: x.updated_at.to_rfc3339(),
        }
    }
}
