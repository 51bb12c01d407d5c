//! Roles and permissions, with Roundup's matching rules.
//!
//! Every interface (CLI with `-u`, web, REST, XML-RPC, mail) asks the one
//! [`Security::has_permission`] question. Permissions are defined by the
//! tracker's schema.py; check functions are Python functions of it
//! and arrive here as [`PermissionCheck`] trait objects.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::db::Db;
use crate::error::{Error, Result};

/// Extra context passed to check functions that accept keyword arguments
/// (Roundup's "version 2" checks: property, permission, classname).
#[derive(Clone, Debug)]
pub struct CheckContext<'a> {
    pub permission: &'a str,
    pub classname: Option<&'a str>,
    pub property: Option<&'a str>,
}

/// A check function attached to a permission: decides for one item.
pub trait PermissionCheck: Send + Sync + fmt::Debug {
    fn check(&self, db: &Db, userid: &str, itemid: &str, ctx: &CheckContext<'_>) -> Result<bool>;
}

/// One raw filterspec: property names with their wanted values.
pub type RawFilterSpec = Vec<(String, Vec<String>)>;

/// A filter function attached to a permission: returns filterspecs (as
/// raw property/value lists) whose union is the set of visible items, so
/// index pages can filter in SQL instead of checking item by item.
pub trait PermissionFilter: Send + Sync + fmt::Debug {
    fn filters(&self, db: &Db, userid: &str, classname: &str) -> Result<Vec<RawFilterSpec>>;
}

/// One permission definition.
#[derive(Clone, Debug)]
pub struct Permission {
    pub name: String,
    pub description: String,
    /// `None`: applies to every class.
    pub klass: Option<String>,
    /// `None`: applies to every property.
    pub properties: Option<Vec<String>>,
    pub check: Option<Arc<dyn PermissionCheck>>,
    pub filter: Option<Arc<dyn PermissionFilter>>,
    /// Only meaningful with `properties`: the permission is then ignored
    /// for class- and item-level questions (no property given).
    pub props_only: bool,
}

impl Permission {
    pub fn new(name: &str, description: &str) -> Permission {
        Permission {
            name: name.to_string(),
            description: description.to_string(),
            klass: None,
            properties: None,
            check: None,
            filter: None,
            props_only: false,
        }
    }

    /// Roundup's `Permission.test`.
    fn test(
        &self,
        db: &Db,
        permission: &str,
        classname: Option<&str>,
        property: Option<&str>,
        userid: &str,
        itemid: Option<&str>,
    ) -> Result<bool> {
        if self.name != permission {
            return Ok(false);
        }
        if let Some(k) = &self.klass {
            if Some(k.as_str()) != classname {
                return Ok(false);
            }
        }
        match (property, &self.properties) {
            (Some(p), Some(props)) if !props.iter().any(|x| x == p) => return Ok(false),
            (None, Some(_)) if self.props_only => return Ok(false),
            _ => {}
        }
        if let (Some(item), Some(check)) = (itemid, &self.check) {
            let ctx = CheckContext {
                permission,
                classname,
                property,
            };
            if !check.check(db, userid, item, &ctx)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn same_definition(&self, other: &Permission) -> bool {
        self.name == other.name
            && self.klass == other.klass
            && self.properties == other.properties
            && self.props_only == other.props_only
            && match (&self.check, &other.check) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }

    /// Whether this permission lets a role search on `property` of
    /// `classname` (View or Search, no check function).
    fn searchable(&self, classname: &str, property: &str) -> bool {
        if self.name != "View" && self.name != "Search" {
            return false;
        }
        if self.klass.as_deref().is_some_and(|k| k != classname) || self.check.is_some() {
            return false;
        }
        match &self.properties {
            Some(props) => props.iter().any(|p| p == property),
            None => true,
        }
    }
}

/// A role: a named set of permissions. Names are case-insensitive.
#[derive(Clone, Debug)]
pub struct Role {
    pub name: String,
    pub description: String,
    pub permissions: Vec<usize>,
}

/// All roles and permissions of a tracker.
#[derive(Clone, Debug, Default)]
pub struct Security {
    permissions: Vec<Permission>,
    roles: indexmap::IndexMap<String, Role>,
    by_name: HashMap<String, Vec<usize>>,
    /// Default for `props_only` when a permission lists properties.
    pub props_only_default: bool,
}

/// Permissions Roundup defines before the schema runs, and which role gets them.
const BUILTIN_PERMISSIONS: &[(&str, &str)] = &[
    ("Create", "User may create everything"),
    ("Edit", "User may edit everything"),
    ("Restore", "User may restore everything"),
    ("Retire", "User may retire everything"),
    ("View", "User may view everything"),
    ("Web Access", "User may access the web interface"),
    ("Rest Access", "User may access the rest interface"),
    ("Xmlrpc Access", "User may access the xmlrpc interface"),
    (
        "Web Roles",
        "User may manipulate user Roles through the web",
    ),
    ("Email Access", "User may use the email interface"),
];

impl Security {
    /// The starting point before a schema script runs: roles User, Admin,
    /// Anonymous; Admin holds Create/Edit/Restore/Retire/View on every class
    /// and the interface-access permissions.
    pub fn with_builtins() -> Security {
        let mut s = Security::default();
        s.add_role("User", "A regular user, no privs");
        s.add_role("Admin", "An admin user, full privs");
        s.add_role("Anonymous", "An anonymous user");
        for (name, desc) in BUILTIN_PERMISSIONS {
            let idx = s.add_permission(Permission::new(name, desc));
            s.roles["admin"].permissions.push(idx);
        }
        s
    }

    /// Add (or redefine the description of) a role.
    pub fn add_role(&mut self, name: &str, description: &str) {
        let key = name.to_lowercase();
        let role = self.roles.entry(key.clone()).or_insert_with(|| Role {
            name: key,
            description: String::new(),
            permissions: Vec::new(),
        });
        role.description = description.to_string();
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.contains_key(&name.to_lowercase())
    }

    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// The permissions of the named roles (case-insensitive; unknown names
    /// are skipped), in definition order, without sorting or copying.
    pub fn permissions_of<'a>(
        &'a self,
        roles: &'a [String],
    ) -> impl Iterator<Item = &'a Permission> + 'a {
        roles
            .iter()
            .filter_map(|rn| {
                self.roles
                    .get(rn.as_str())
                    .or_else(|| self.roles.get(&rn.to_lowercase()))
            })
            .flat_map(|r| r.permissions.iter().map(|&pi| &self.permissions[pi]))
    }

    pub fn permission(&self, idx: usize) -> Option<&Permission> {
        self.permissions.get(idx)
    }

    /// Define a permission; returns its handle for [`Security::add_permission_to_role`].
    pub fn add_permission(&mut self, perm: Permission) -> usize {
        let idx = self.permissions.len();
        self.by_name.entry(perm.name.clone()).or_default().push(idx);
        self.permissions.push(perm);
        idx
    }

    /// Find an existing permission matching name, class, properties and
    /// check exactly (Roundup's `getPermission`).
    pub fn get_permission(
        &self,
        name: &str,
        klass: Option<&str>,
        properties: Option<&[String]>,
        check: Option<&Arc<dyn PermissionCheck>>,
        props_only: Option<bool>,
    ) -> Result<usize> {
        let Some(candidates) = self.by_name.get(name) else {
            return Err(Error::Schema(format!("No permission \"{name}\" defined")));
        };
        let mut tester = Permission::new(name, "");
        tester.klass = klass.map(str::to_string);
        tester.properties = properties.map(|p| p.to_vec());
        tester.check = check.cloned();
        tester.props_only =
            tester.properties.is_some() && props_only.unwrap_or(self.props_only_default);
        candidates
            .iter()
            .copied()
            .find(|&i| self.permissions[i].same_definition(&tester))
            .ok_or_else(|| {
                Error::Schema(format!(
                    "No permission \"{name}\" defined for \"{}\"",
                    klass.unwrap_or("")
                ))
            })
    }

    /// Give a role a permission.
    pub fn add_permission_to_role(&mut self, role: &str, perm: usize) -> Result<()> {
        if perm >= self.permissions.len() {
            return Err(Error::Schema(format!("unknown permission handle {perm}")));
        }
        let key = role.to_lowercase();
        match self.roles.get_mut(&key) {
            Some(r) => {
                r.permissions.push(perm);
                Ok(())
            }
            None => Err(Error::Schema(format!("No role \"{role}\" defined"))),
        }
    }

    /// Roundup's `hasPermission`: does any of the user's roles grant
    /// `permission` for the class / property / item? Permissions without a
    /// check function are tried before those with one.
    pub fn has_permission(
        &self,
        db: &Db,
        permission: &str,
        userid: &str,
        classname: Option<&str>,
        property: Option<&str>,
        itemid: Option<&str>,
    ) -> Result<bool> {
        if itemid.is_some() && classname.is_none() {
            return Err(Error::value(
                "a permission check on an item needs its class",
            ));
        }
        let roles = db.user_roles(userid)?;
        self.roles_have_permission(db, &roles, permission, userid, classname, property, itemid)
    }

    /// The same question for an explicit list of role names (used for the
    /// anonymous user and for JWT-restricted roles).
    #[allow(clippy::too_many_arguments)]
    pub fn roles_have_permission(
        &self,
        db: &Db,
        roles: &[String],
        permission: &str,
        userid: &str,
        classname: Option<&str>,
        property: Option<&str>,
        itemid: Option<&str>,
    ) -> Result<bool> {
        for with_check in [false, true] {
            for rolename in roles {
                let Some(role) = self.roles.get(&rolename.to_lowercase()) else {
                    continue;
                };
                for &pi in &role.permissions {
                    let p = &self.permissions[pi];
                    if p.check.is_some() != with_check {
                        continue;
                    }
                    if p.test(db, permission, classname, property, userid, itemid)? {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Whether any of `roles` may search `classname.property` (View or
    /// Search without a check function, allowing that property).
    pub fn role_may_search(&self, roles: &[String], classname: &str, property: &str) -> bool {
        roles.iter().any(|rn| {
            self.roles.get(&rn.to_lowercase()).is_some_and(|r| {
                r.permissions
                    .iter()
                    .any(|&pi| self.permissions[pi].searchable(classname, property))
            })
        })
    }

    /// Permissions with a check function that apply to class-level
    /// questions for these roles (for filtering index pages).
    pub fn checked_permissions<'a>(
        &'a self,
        roles: &'a [String],
        permission: &'a str,
        classname: &'a str,
    ) -> impl Iterator<Item = &'a Permission> + 'a {
        roles
            .iter()
            .filter_map(|rn| self.roles.get(&rn.to_lowercase()))
            .flat_map(|r| r.permissions.iter().map(|&pi| &self.permissions[pi]))
            .filter(move |p| {
                p.name == permission
                    && p.check.is_some()
                    && p.klass.as_deref().is_none_or(|k| k == classname)
                    && !(p.props_only && p.properties.is_some())
            })
    }

    /// Permissions of a role sorted by (class, name), as `roundup-admin
    /// security` lists them.
    pub fn role_permissions(&self, role: &str) -> Vec<&Permission> {
        let mut v: Vec<&Permission> = match self.roles.get(&role.to_lowercase()) {
            Some(r) => r
                .permissions
                .iter()
                .map(|&i| &self.permissions[i])
                .collect(),
            None => Vec::new(),
        };
        v.sort_by(|a, b| {
            (a.klass.as_deref().unwrap_or(""), &a.name)
                .cmp(&(b.klass.as_deref().unwrap_or(""), &b.name))
        });
        v
    }
}

/// Split a user's `roles` property into lower-case role names.
pub fn parse_roles(roles: &str) -> Vec<String> {
    roles
        .split(',')
        .map(|r| r.trim().to_lowercase())
        .filter(|r| !r.is_empty())
        .collect()
}
