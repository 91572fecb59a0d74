use keel_application::{{plural}}::{
    Create{{Name}}, Delete{{Name}}, Get{{Name}}, List{{Plural}}, Update{{Name}},
};
