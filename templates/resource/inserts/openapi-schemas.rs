"{{Name}}Create": { "type": "object", "required": ["name", "description"], "properties": {
    "name": { "type": "string", "minLength": 1, "maxLength": 200 },
    "description": { "type": "string", "maxLength": 2000 } } },
"{{Name}}": { "type": "object", "required": ["id", "name", "description", "owner_id", "created_at", "updated_at"], "additionalProperties": false, "properties": {
    "id": { "type": "integer", "format": "int64" }, "name": { "type": "string" }, "description": { "type": "string" },
    "owner_id": { "type": "integer", "format": "int64" }, "created_at": timestamp(), "updated_at": timestamp() } },
"{{Name}}List": { "type": "array", "items": schema_ref("{{Name}}") },
