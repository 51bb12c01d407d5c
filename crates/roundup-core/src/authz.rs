//! Authorisation: what one user may do, asked the same way by every
//! front end (web UI, REST, XML-RPC, later the mail gateway).
//!
//! A [`Subject`] is a user id with the roles that decide for it: the roles
//! of its user record, or fewer (a JSON Web Token may restrict them). All
//! questions go through [`crate::security::Security`]'s matching rules.
//!
//! The `check_*` methods make the decision and raise
//! [`Error::Unauthorised`] with Roundup's wording; the `may_*` methods
//! answer yes or no for front ends that word their own refusal (the web
//! form's "You do not have permission to edit issue").

use crate::db::Db;
use crate::error::{Error, Result};
use crate::schema::PropType;
use crate::security::parse_roles;
use crate::value::Value;

/// Who is asking, with the roles that decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub userid: String,
    /// Lower-case role names.
    pub roles: Vec<String>,
    /// Whether this is the anonymous user.
    pub anonymous: bool,
}

fn is_anonymous_user(db: &Db, uid: &str) -> bool {
    matches!(db.get("user", uid, "username"), Ok(Some(Value::String(n))) if n == "anonymous")
}

impl Subject {
    /// A user with the roles of its user record.
    pub fn user(db: &Db, userid: &str) -> Result<Subject> {
        Ok(Subject {
            userid: userid.to_string(),
            roles: db.user_roles(userid)?,
            anonymous: is_anonymous_user(db, userid),
        })
    }

    /// The anonymous user (roles from its record; just `anonymous` when
    /// the tracker has no such user, with user id `0`).
    pub fn anonymous(db: &Db) -> Subject {
        match db.lookup("user", "anonymous") {
            Ok(uid) => Subject {
                roles: db.user_roles(&uid).unwrap_or_default(),
                userid: uid,
                anonymous: true,
            },
            Err(_) => Subject {
                userid: "0".to_string(),
                roles: vec!["anonymous".to_string()],
                anonymous: true,
            },
        }
    }

    /// A user acting with only the given roles (comma-separated lists are
    /// split), e.g. from a token's `roles` claim.
    pub fn restricted(db: &Db, userid: &str, roles: &[String]) -> Subject {
        Subject {
            userid: userid.to_string(),
            roles: roles.iter().flat_map(|r| parse_roles(r)).collect(),
            anonymous: is_anonymous_user(db, userid),
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        let role = role.to_lowercase();
        self.roles.contains(&role)
    }

    /// Roundup's `hasPermission` for these roles.
    pub fn has(
        &self,
        db: &Db,
        permission: &str,
        class: Option<&str>,
        prop: Option<&str>,
        item: Option<&str>,
    ) -> Result<bool> {
        db.security().roles_have_permission(
            db,
            &self.roles,
            permission,
            &self.userid,
            class,
            prop,
            item,
        )
    }

    /// As [`Subject::has`], a failing check function counting as "no".
    pub fn may(
        &self,
        db: &Db,
        permission: &str,
        class: Option<&str>,
        prop: Option<&str>,
        item: Option<&str>,
    ) -> bool {
        self.has(db, permission, class, prop, item).unwrap_or(false)
    }

    /// Whether a permission without a check function grants `permission`
    /// on the whole class (then no item can change the answer; Roundup's
    /// `skip_permissions_with_check`).
    pub fn has_unconditional(&self, db: &Db, permission: &str, class: &str) -> bool {
        db.security().permissions_of(&self.roles).any(|p| {
            p.name == permission
                && p.check.is_none()
                && p.klass.as_deref().is_none_or(|k| k == class)
                && !(p.props_only && p.properties.is_some())
        })
    }

    /// Whether any permission named `permission` these roles hold for
    /// `class` carries a check function (so answers may differ per item).
    pub fn has_checked(&self, db: &Db, permission: &str, class: &str) -> bool {
        db.security().permissions_of(&self.roles).any(|p| {
            p.name == permission
                && p.check.is_some()
                && p.klass.as_deref().is_none_or(|k| k == class)
        })
    }

    /// Roundup's `hasSearchPermission`: every step of a (dotted) property
    /// must be searchable (View or Search without a check function), and
    /// when the last one is a Link or Multilink, so must be the target's
    /// id, label and order properties.
    pub fn may_search(&self, db: &Db, class: &str, path: &str) -> bool {
        let sec = db.security();
        let schema = db.schema();
        let mut cn = class.to_string();
        let mut last: Option<&crate::Property> = None;
        for (i, pn) in path.split('.').enumerate() {
            if i > 0 {
                match last.and_then(|p| p.link_class.clone()) {
                    Some(c) => cn = c,
                    None => return false,
                }
            }
            let Ok(cls) = schema.class(&cn) else {
                return false;
            };
            let Some(p) = cls.prop(pn) else {
                return false;
            };
            if !sec.role_may_search(&self.roles, &cn, pn) {
                return false;
            }
            last = Some(p);
        }
        if let Some(p) = last {
            if matches!(p.ptype, PropType::Link | PropType::Multilink) {
                let target = p.link_class.as_deref().unwrap_or_default();
                let Ok(tcls) = schema.class(target) else {
                    return false;
                };
                let mut needed = vec!["id".to_string(), tcls.label_prop(false), tcls.order_prop()];
                needed.dedup();
                return needed
                    .iter()
                    .all(|n| sec.role_may_search(&self.roles, target, n));
            }
        }
        true
    }

    /// The ids the user may view (Roundup's `filter_with_permissions`
    /// after a query ran), in the given order.
    pub fn visible(&self, db: &Db, class: &str, ids: Vec<String>) -> Vec<String> {
        if self.has_unconditional(db, "View", class) {
            return ids;
        }
        ids.into_iter()
            .filter(|id| self.may(db, "View", Some(class), None, Some(id)))
            .collect()
    }

    /// The properties of an item (or, without `item`, of the class) the
    /// user may view, in schema order.
    pub fn visible_props(&self, db: &Db, class: &str, item: Option<&str>) -> Result<Vec<String>> {
        let cls = db.class(class)?;
        Ok(cls
            .prop_names(true)
            .into_iter()
            .filter(|p| self.may(db, "View", Some(class), Some(p), item))
            .collect())
    }

    // ------------------------------------------------------------------
    // decisions about writes

    /// May the user create an item of `class` setting these properties?
    /// (Create on the class, and on each property given.)
    pub fn may_create<'p>(
        &self,
        db: &Db,
        class: &str,
        props: impl IntoIterator<Item = &'p str>,
    ) -> Result<bool> {
        Ok(self.refuse_create(db, class, props)?.is_none())
    }

    /// The first thing refused for a create: `Some(None)` for the class,
    /// `Some(Some(prop))` for a property.
    fn refuse_create<'p>(
        &self,
        db: &Db,
        class: &str,
        props: impl IntoIterator<Item = &'p str>,
    ) -> Result<Option<Option<&'p str>>> {
        if !self.has(db, "Create", Some(class), None, None)? {
            return Ok(Some(None));
        }
        for p in props {
            if !self.has(db, "Create", Some(class), Some(p), None)? {
                return Ok(Some(Some(p)));
            }
        }
        Ok(None)
    }

    /// Check a create: `Unauthorised("Permission to create issue denied")`
    /// or `... create issue.title denied`.
    pub fn check_create<'p>(
        &self,
        db: &Db,
        class: &str,
        props: impl IntoIterator<Item = &'p str>,
    ) -> Result<()> {
        match self.refuse_create(db, class, props)? {
            None => Ok(()),
            Some(None) => Err(Error::Unauthorised(format!(
                "Permission to create {class} denied"
            ))),
            Some(Some(p)) => Err(Error::Unauthorised(format!(
                "Permission to create {class}.{p} denied"
            ))),
        }
    }

    /// Check only the class-level Create permission (before the request's
    /// properties are known).
    pub fn check_create_class(&self, db: &Db, class: &str) -> Result<()> {
        self.check_create(db, class, std::iter::empty())
    }

    /// The first property of `props` the user may not edit on the item.
    pub fn refused_edit<'p>(
        &self,
        db: &Db,
        class: &str,
        id: &str,
        props: impl IntoIterator<Item = &'p str>,
    ) -> Result<Option<&'p str>> {
        for p in props {
            if !self.has(db, "Edit", Some(class), Some(p), Some(id))? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// May the user change each of these properties of the item?
    pub fn may_edit<'p>(
        &self,
        db: &Db,
        class: &str,
        id: &str,
        props: impl IntoIterator<Item = &'p str>,
    ) -> Result<bool> {
        Ok(self.refused_edit(db, class, id, props)?.is_none())
    }

    /// Check an edit: `Unauthorised("Permission to edit title of issue3
    /// denied")`.
    pub fn check_edit<'p>(
        &self,
        db: &Db,
        class: &str,
        id: &str,
        props: impl IntoIterator<Item = &'p str>,
    ) -> Result<()> {
        match self.refused_edit(db, class, id, props)? {
            None => Ok(()),
            Some(p) => Err(Error::Unauthorised(format!(
                "Permission to edit {p} of {class}{id} denied"
            ))),
        }
    }

    /// Check reading properties of an item: `Unauthorised("Permission to
    /// view title of issue3 denied")`.
    pub fn check_view<'p>(
        &self,
        db: &Db,
        class: &str,
        id: &str,
        props: impl IntoIterator<Item = &'p str>,
    ) -> Result<()> {
        for p in props {
            if !self.has(db, "View", Some(class), Some(p), Some(id))? {
                return Err(Error::Unauthorised(format!(
                    "Permission to view {p} of {class}{id} denied"
                )));
            }
        }
        Ok(())
    }

    /// May the user retire the item ("Retire")?
    pub fn may_retire(&self, db: &Db, class: &str, id: &str) -> Result<bool> {
        self.has(db, "Retire", Some(class), None, Some(id))
    }

    /// May the user restore the item ("Restore", as the web's restore
    /// action asks)?
    pub fn may_restore(&self, db: &Db, class: &str, id: &str) -> Result<bool> {
        self.has(db, "Restore", Some(class), None, Some(id))
    }

    /// Check a retire: `Unauthorised("Permission to retire issue 3 denied")`.
    pub fn check_retire(&self, db: &Db, class: &str, id: &str) -> Result<()> {
        if self.may_retire(db, class, id)? {
            Ok(())
        } else {
            Err(Error::Unauthorised(format!(
                "Permission to retire {class} {id} denied"
            )))
        }
    }

    /// The check of the API's `retire` and `restore` actions (XML-RPC's
    /// `action`, REST's `@op=action`): both need "Retire" on the item.
    pub fn check_retire_or_restore(&self, db: &Db, class: &str, id: &str) -> Result<()> {
        if self.may_retire(db, class, id)? {
            Ok(())
        } else {
            Err(Error::Unauthorised(format!(
                "You do not have permission to retire or restore the {class} class."
            )))
        }
    }
}

/// Roundup refuses to retire these two users whatever the permissions.
pub fn check_retirable(db: &Db, class: &str, id: &str) -> Result<()> {
    if class == "user" {
        if let Ok(Some(Value::String(u))) = db.get("user", id, "username") {
            if u == "admin" || u == "anonymous" {
                return Err(Error::value(
                    "You may not retire the admin or anonymous user",
                ));
            }
        }
    }
    Ok(())
}
