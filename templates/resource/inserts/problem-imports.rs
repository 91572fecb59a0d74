use keel_application::{{plural}}::{{Name}}Error;
