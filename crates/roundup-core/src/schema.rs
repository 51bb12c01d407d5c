//! The tracker schema: classes, their properties and property options.
//!
//! A schema is built once when a tracker opens (normally by running its
//! `schema.py` through the scripting crate) and is immutable afterwards; it
//! is shared between threads behind an `Arc`.

use indexmap::IndexMap;

/// The hasher of the schema's maps: every page, cell and API call looks
/// classes and properties up by name, and their names are the
/// tracker's own, never a visitor's keys, so a fast hash is safe here.
pub type SchemaHasher = foldhash::fast::RandomState;

/// A class's declared properties by name, in declaration order.
pub type PropMap = IndexMap<String, Property, SchemaHasher>;

use crate::error::{Error, Result};
use crate::password::Scheme;
use crate::value::Value;

/// The nine hyperdb property types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropType {
    String,
    Password,
    Date,
    Interval,
    Link,
    Multilink,
    Boolean,
    Number,
    Integer,
}

impl PropType {
    /// The Roundup class name of the type (`String`, `Link`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PropType::String => "String",
            PropType::Password => "Password",
            PropType::Date => "Date",
            PropType::Interval => "Interval",
            PropType::Link => "Link",
            PropType::Multilink => "Multilink",
            PropType::Boolean => "Boolean",
            PropType::Number => "Number",
            PropType::Integer => "Integer",
        }
    }
}

/// A property definition with every option Roundup's property types accept.
#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    pub ptype: PropType,
    /// Target class of a Link or Multilink.
    pub link_class: Option<String>,
    pub required: bool,
    pub default_value: Option<Value>,
    /// Changes are left out of change notes and (with skipquiet) history.
    pub quiet: bool,
    /// String: words are added to the full-text index.
    pub indexme: bool,
    /// Link/Multilink: journal link/unlink events on the target item.
    pub do_journal: bool,
    /// Link/Multilink: accept numeric ids in input (else only keys).
    pub try_id_parsing: bool,
    /// Multilink: name of a computed reverse multilink added to the target class.
    pub rev_multilink: Option<String>,
    /// Link/Multilink: property of the target shown in mail headers.
    pub msg_header_property: Option<String>,
    /// Password: hashing scheme for new values (None: config default).
    pub scheme: Option<Scheme>,
    /// Number: stored as double precision where the backend distinguishes.
    pub use_double: bool,
    /// Date: display options (offset in hours, show time, strftime format).
    pub date_offset: Option<String>,
    pub display_time: bool,
    pub date_format: Option<String>,
    /// Computed (reverse multilink): not stored in the item table, not settable.
    pub computed: Option<ComputedFrom>,
}

/// Where a computed reverse multilink gets its values from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputedFrom {
    /// The class holding the forward Link/Multilink.
    pub class: String,
    /// The forward property name on that class.
    pub prop: String,
    /// True when the forward property is a Multilink.
    pub multilink: bool,
}

impl Property {
    /// A property of the given type with Roundup's default options.
    pub fn new(ptype: PropType) -> Property {
        Property {
            ptype,
            link_class: None,
            required: false,
            default_value: None,
            quiet: false,
            indexme: false,
            do_journal: true,
            try_id_parsing: true,
            rev_multilink: None,
            msg_header_property: None,
            scheme: None,
            use_double: false,
            date_offset: None,
            display_time: true,
            date_format: None,
            computed: None,
        }
    }

    pub fn string() -> Property {
        Property::new(PropType::String)
    }
    pub fn indexed_string() -> Property {
        Property {
            indexme: true,
            ..Property::new(PropType::String)
        }
    }
    pub fn password() -> Property {
        Property::new(PropType::Password)
    }
    pub fn date() -> Property {
        Property::new(PropType::Date)
    }
    pub fn interval() -> Property {
        Property::new(PropType::Interval)
    }
    pub fn boolean() -> Property {
        Property::new(PropType::Boolean)
    }
    pub fn number() -> Property {
        Property::new(PropType::Number)
    }
    pub fn integer() -> Property {
        Property::new(PropType::Integer)
    }
    pub fn link(class: &str) -> Property {
        Property {
            link_class: Some(class.to_string()),
            ..Property::new(PropType::Link)
        }
    }
    pub fn multilink(class: &str) -> Property {
        Property {
            link_class: Some(class.to_string()),
            ..Property::new(PropType::Multilink)
        }
    }
    /// Builder helper: switch journalling of link events off.
    pub fn no_journal(mut self) -> Property {
        self.do_journal = false;
        self
    }

    pub fn is_link(&self) -> bool {
        self.ptype == PropType::Link
    }
    pub fn is_multilink(&self) -> bool {
        self.ptype == PropType::Multilink
    }
    /// Link or Multilink.
    pub fn is_pointer(&self) -> bool {
        matches!(self.ptype, PropType::Link | PropType::Multilink)
    }
    /// Whether raw input (a form field, a command-line value) means "not
    /// set" for this property: an empty value for every type but String,
    /// and, as in Roundup, `-1` for a Link that takes ids.
    pub fn raw_means_unset(&self, raw: &str) -> bool {
        let raw = raw.trim();
        match self.ptype {
            PropType::String => false,
            PropType::Link => raw.is_empty() || (self.try_id_parsing && raw == "-1"),
            _ => raw.is_empty(),
        }
    }
    pub fn is_computed(&self) -> bool {
        self.computed.is_some()
    }

    /// The text Roundup's SQL backends store for this property in the
    /// `schema` table, e.g. `<roundup.hyperdb.Link to "user">`.
    pub fn schema_repr(&self) -> String {
        match (&self.link_class, self.ptype) {
            (Some(cls), PropType::Link | PropType::Multilink) => {
                format!("<roundup.hyperdb.{} to \"{}\">", self.ptype.name(), cls)
            }
            _ => format!("<roundup.hyperdb.{}>", self.ptype.name()),
        }
    }
}

/// Which hyperdb class flavour a class is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassKind {
    /// `Class(db, name, ...)`.
    Plain,
    /// `IssueClass`: adds title, messages, files, nosy, superseder.
    Issue,
    /// `FileClass`: adds content (kept on disk, not in SQL) and type.
    File,
}

/// Names of the properties every item has without declaring them.
pub const AUTOMATIC_PROPS: [&str; 5] = ["id", "creation", "activity", "creator", "actor"];

/// One class of the schema.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassDef {
    pub name: String,
    pub kind: ClassKind,
    /// Declared properties (including those IssueClass/FileClass add), in
    /// declaration order. Automatic properties are not in here.
    pub props: PropMap,
    pub key: Option<String>,
    pub labelprop: Option<String>,
    pub orderprop: Option<String>,
    /// Whether changes to items of this class are journalled at all.
    pub do_journal: bool,
}

impl ClassDef {
    /// A new class; IssueClass and FileClass get their standard properties
    /// unless `props` already defines them.
    pub fn new(name: &str, kind: ClassKind, mut props: PropMap) -> Result<ClassDef> {
        check_name(name, "class")?;
        for pname in props.keys() {
            check_name(pname, "property")?;
            if AUTOMATIC_PROPS.contains(&pname.as_str()) {
                return Err(Error::Schema(format!(
                    "class \"{name}\": property \"{pname}\" is reserved (id, creation, activity, creator and actor are automatic)"
                )));
            }
        }
        match kind {
            ClassKind::Plain => {}
            ClassKind::Issue => {
                props
                    .entry("title".into())
                    .or_insert_with(Property::indexed_string);
                props
                    .entry("messages".into())
                    .or_insert_with(|| Property::multilink("msg"));
                props
                    .entry("files".into())
                    .or_insert_with(|| Property::multilink("file"));
                props
                    .entry("nosy".into())
                    .or_insert_with(|| Property::multilink("user").no_journal());
                props
                    .entry("superseder".into())
                    .or_insert_with(|| Property::multilink(name));
            }
            ClassKind::File => {
                props
                    .entry("content".into())
                    .or_insert_with(Property::indexed_string);
                props.entry("type".into()).or_insert_with(Property::string);
            }
        }
        Ok(ClassDef {
            name: name.to_string(),
            kind,
            props,
            key: None,
            labelprop: None,
            orderprop: None,
            do_journal: true,
        })
    }

    /// Set the key property (must be a String property).
    pub fn set_key(&mut self, prop: &str) -> Result<()> {
        match self.props.get(prop) {
            Some(p) if p.ptype == PropType::String => {
                self.key = Some(prop.to_string());
                Ok(())
            }
            Some(p) => Err(Error::Schema(format!(
                "class \"{}\": key property \"{prop}\" must be a String, not {}",
                self.name,
                p.ptype.name()
            ))),
            None => Err(Error::Schema(format!(
                "class \"{}\" has no property \"{prop}\" to use as key",
                self.name
            ))),
        }
    }

    /// Look up a property, including the automatic ones.
    pub fn prop(&self, name: &str) -> Option<&Property> {
        if let Some(p) = self.props.get(name) {
            return Some(p);
        }
        automatic_prop(name)
    }

    /// Look up a property or fail with a message naming class and property.
    pub fn require_prop(&self, name: &str) -> Result<&Property> {
        self.prop(name).ok_or_else(|| Error::NoSuchProperty {
            class: self.name.clone(),
            prop: name.to_string(),
        })
    }

    /// All property names: declared ones then (if `protected`) the automatic ones.
    pub fn prop_names(&self, protected: bool) -> Vec<String> {
        let mut out: Vec<String> = self.props.keys().cloned().collect();
        if protected {
            out.extend(AUTOMATIC_PROPS.iter().map(|s| s.to_string()));
        }
        out
    }

    /// Roundup's label property: explicit, key, "name", "title", then id or
    /// the alphabetically first property.
    pub fn label_prop(&self, default_to_id: bool) -> String {
        if let Some(l) = &self.labelprop {
            return l.clone();
        }
        if let Some(k) = &self.key {
            return k.clone();
        }
        for cand in ["name", "title"] {
            if self.props.contains_key(cand) {
                return cand.to_string();
            }
        }
        if default_to_id {
            return "id".to_string();
        }
        let mut names = self.prop_names(true);
        names.sort();
        names.into_iter().next().unwrap_or_else(|| "id".to_string())
    }

    /// Roundup's order property: explicit, "order", else the label property.
    pub fn order_prop(&self) -> String {
        if let Some(o) = &self.orderprop {
            return o.clone();
        }
        if self.props.contains_key("order") {
            return "order".to_string();
        }
        self.label_prop(false)
    }

    /// Properties stored as columns of the item table (not multilinks, not
    /// computed), sorted by name. FileClass `content` has a column, as in
    /// Roundup, although its value is kept on disk and the column stays NULL.
    pub fn column_props(&self) -> Vec<(&str, &Property)> {
        let mut v: Vec<(&str, &Property)> = self
            .props
            .iter()
            .filter(|(_, p)| !p.is_multilink() && !p.is_computed())
            .map(|(n, p)| (n.as_str(), p))
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Stored multilink properties (each has its own table).
    pub fn multilink_props(&self) -> Vec<(&str, &Property)> {
        self.props
            .iter()
            .filter(|(_, p)| p.is_multilink() && !p.is_computed())
            .map(|(n, p)| (n.as_str(), p))
            .collect()
    }

    /// Whether `prop` is the FileClass content property (kept on disk).
    pub fn is_file_content(&self, prop: &str) -> bool {
        self.kind == ClassKind::File && prop == "content"
    }
}

fn automatic_prop(name: &str) -> Option<&'static Property> {
    use std::sync::OnceLock;
    static AUTO: OnceLock<[(&'static str, Property); 5]> = OnceLock::new();
    let table = AUTO.get_or_init(|| {
        [
            ("id", Property::string()),
            ("creation", Property::date()),
            ("activity", Property::date()),
            ("creator", Property::link("user")),
            ("actor", Property::link("user")),
        ]
    });
    table.iter().find(|(n, _)| *n == name).map(|(_, p)| p)
}

/// Class and property names: identifiers that are safe as SQL names.
fn check_name(name: &str, what: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Schema(format!(
            "invalid {what} name \"{name}\": use a letter followed by letters, digits or underscores"
        )))
    }
}

/// A class as recorded in the `schema` table: name, key property (if any)
/// and its stored properties as sorted `(name, repr)` pairs.
pub type TableSpec = (String, Option<String>, Vec<(String, String)>);

/// The whole schema.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub classes: IndexMap<String, ClassDef, SchemaHasher>,
}

impl Schema {
    pub fn new() -> Schema {
        Schema::default()
    }

    /// Add a class; a second class of the same name is an error.
    pub fn add_class(&mut self, class: ClassDef) -> Result<()> {
        if self.classes.contains_key(&class.name) {
            return Err(Error::Schema(format!(
                "class \"{}\" is defined twice",
                class.name
            )));
        }
        self.classes.insert(class.name.clone(), class);
        Ok(())
    }

    pub fn class(&self, name: &str) -> Result<&ClassDef> {
        self.classes
            .get(name)
            .ok_or_else(|| Error::NoSuchClass(name.to_string()))
    }

    pub fn class_mut(&mut self, name: &str) -> Result<&mut ClassDef> {
        self.classes
            .get_mut(name)
            .ok_or_else(|| Error::NoSuchClass(name.to_string()))
    }

    /// Check cross-references and add computed reverse multilinks. Call once
    /// after all classes are defined.
    pub fn finish(&mut self) -> Result<()> {
        let mut reverse: Vec<(String, String, ComputedFrom)> = Vec::new();
        for class in self.classes.values() {
            for (pname, prop) in &class.props {
                if let Some(target) = &prop.link_class {
                    if !self.classes.contains_key(target) {
                        return Err(Error::Schema(format!(
                            "class \"{}\" property \"{pname}\" links to undefined class \"{target}\"",
                            class.name
                        )));
                    }
                    if let Some(rev) = &prop.rev_multilink {
                        reverse.push((
                            target.clone(),
                            rev.clone(),
                            ComputedFrom {
                                class: class.name.clone(),
                                prop: pname.clone(),
                                multilink: prop.is_multilink(),
                            },
                        ));
                    }
                }
            }
            if let Some(k) = &class.key {
                if !class.props.contains_key(k) {
                    return Err(Error::Schema(format!(
                        "class \"{}\" key \"{k}\" is not a property",
                        class.name
                    )));
                }
            }
        }
        for (target, rev, from) in reverse {
            let cls = self.class_mut(&target)?;
            if cls.props.contains_key(&rev) {
                return Err(Error::Schema(format!(
                    "class \"{target}\" already has a property \"{rev}\" (wanted for rev_multilink of {}.{})",
                    from.class, from.prop
                )));
            }
            let mut p = Property::multilink(&from.class);
            p.computed = Some(from);
            cls.props.insert(rev, p);
        }
        Ok(())
    }

    /// The `tables` part of the schema dict Roundup keeps in the `schema`
    /// table: for each class its key and the sorted (name, repr) pairs of
    /// its stored properties.
    pub fn table_specs(&self) -> Vec<TableSpec> {
        self.classes
            .values()
            .map(|c| {
                let mut props: Vec<(String, String)> = c
                    .props
                    .iter()
                    .filter(|(_, p)| !p.is_computed())
                    .map(|(n, p)| (n.clone(), p.schema_repr()))
                    .collect();
                props.sort();
                (c.name.clone(), c.key.clone(), props)
            })
            .collect()
    }
}
