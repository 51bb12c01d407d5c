//! Filter queries to SQL (in progress on the filter branch).
