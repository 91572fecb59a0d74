Box::new({{migration}}::MIGRATION),
