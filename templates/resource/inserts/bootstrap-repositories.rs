let {{plural}}: Arc<dyn {{Plural}}> = Arc::new(Sea{{Plural}}::new(db.clone(), self.waker.clone()));
