//! Permission questions asked on behalf of an API caller.
//!
//! The caller's roles come from its user record, or from the `roles` claim
//! of the JSON Web Token it presented; every read and write of the REST
//! and XML-RPC interfaces goes through [`Perms`] so that a token limited to
//! a few roles never gains what the user's full roles would allow.

use roundup_core::schema::PropType;
use roundup_core::security::parse_roles;
use roundup_core::{Db, Value};

use super::ApiAuth;

/// Who is asking, with the roles that decide.
#[derive(Clone, Debug)]
pub struct Perms {
    pub uid: String,
    pub roles: Vec<String>,
    /// Whether the caller is the anonymous user.
    pub anonymous: bool,
}

impl Perms {
    /// Resolve an [`ApiAuth`] into a user id and its roles. An anonymous
    /// caller acts as the `anonymous` user (roles from its record, or just
    /// `anonymous` when the tracker has no such user).
    pub fn resolve(db: &Db, auth: &ApiAuth) -> Perms {
        match auth {
            ApiAuth::Anonymous => {
                let uid = db.lookup("user", "anonymous").ok();
                let roles = match &uid {
                    Some(u) => db.user_roles(u).unwrap_or_default(),
                    None => vec!["anonymous".to_string()],
                };
                Perms {
                    uid: uid.unwrap_or_else(|| "0".to_string()),
                    roles,
                    anonymous: true,
                }
            }
            ApiAuth::User(uid) => {
                let anonymous = is_anonymous_user(db, uid);
                Perms {
                    uid: uid.clone(),
                    roles: db.user_roles(uid).unwrap_or_default(),
                    anonymous,
                }
            }
            ApiAuth::Restricted { userid, roles } => Perms {
                uid: userid.clone(),
                roles: roles.iter().flat_map(|r| parse_roles(r)).collect(),
                anonymous: is_anonymous_user(db, userid),
            },
        }
    }

    /// Roundup's `hasPermission` for these roles. A failing check function
    /// counts as "no".
    pub fn has(
        &self,
        db: &Db,
        permission: &str,
        class: Option<&str>,
        prop: Option<&str>,
        item: Option<&str>,
    ) -> bool {
        db.security()
            .roles_have_permission(db, &self.roles, permission, &self.uid, class, prop, item)
            .unwrap_or(false)
    }

    pub fn has_role(&self, role: &str) -> bool {
        let role = role.to_lowercase();
        self.roles.contains(&role)
    }

    /// Whether a permission without a check function grants `permission`
    /// on the whole class (Roundup's `skip_permissions_with_check`).
    pub fn has_unconditional(&self, db: &Db, permission: &str, class: &str) -> bool {
        let sec = db.security();
        self.roles.iter().any(|rn| {
            sec.role_permissions(rn).into_iter().any(|p| {
                p.name == permission
                    && p.check.is_none()
                    && p.klass.as_deref().is_none_or(|k| k == class)
                    && !(p.props_only && p.properties.is_some())
            })
        })
    }

    /// Roundup's `hasSearchPermission`: every component of a (dotted)
    /// property must be searchable, and when the last one is a Link or
    /// Multilink, so must be the target's id, label and order properties.
    pub fn may_search(&self, db: &Db, class: &str, path: &str) -> bool {
        let sec = db.security();
        let schema = db.schema();
        let mut cn = class.to_string();
        let mut last = None;
        for (i, pn) in path.split('.').enumerate() {
            if i > 0 {
                match last.and_then(|p: &roundup_core::Property| p.link_class.clone()) {
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

    /// Keep the ids the caller may view (Roundup's
    /// `filter_with_permissions` after the query ran).
    pub fn visible(&self, db: &Db, class: &str, ids: Vec<String>) -> Vec<String> {
        if self.has_unconditional(db, "View", class) {
            return ids;
        }
        ids.into_iter()
            .filter(|id| self.has(db, "View", Some(class), None, Some(id)))
            .collect()
    }
}

fn is_anonymous_user(db: &Db, uid: &str) -> bool {
    matches!(db.get("user", uid, "username"), Ok(Some(Value::String(n))) if n == "anonymous")
}
