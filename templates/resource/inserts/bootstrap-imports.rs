use keel_application::{{plural}}::{
    Create{{Name}}, Delete{{Name}}, Get{{Name}}, List{{Plural}}, Update{{Name}},
};
use keel_persistence::Sea{{Plural}};
use keel_ports::{{Plural}};
