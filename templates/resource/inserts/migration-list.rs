Box::new({{migration}}::Migration),
