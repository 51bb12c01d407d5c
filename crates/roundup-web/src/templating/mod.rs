//! Page templates and their object model (being written on the web-templating branch).
