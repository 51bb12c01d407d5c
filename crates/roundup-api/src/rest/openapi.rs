//! An OpenAPI 3.1 description of the REST interface for the tracker's own
//! schema (served at `GET /rest/openapi.json`): every class with its
//! properties as JSON types, the collection, item and property endpoints
//! with their parameters, and the authentication schemes.
//!
//! The document is meant to be exact enough for property-based testing
//! (`tests/rest_schemathesis.rs` runs schemathesis against it): parameter
//! values carry the patterns the server parses, bodies list exactly the
//! properties that may be written, and every status an operation can
//! answer is listed. What the document cannot say (whether an id exists,
//! the current ETag, rules of the tracker's auditors) is answered with the
//! documented 404, 409 and 412 statuses.

use roundup_core::schema::{ClassDef, PropType, Property};
use roundup_core::Db;
use serde_json::{json, Map, Value as Json};

/// The properties every item has and nobody writes.
const PROTECTED: [&str; 5] = ["id", "creation", "activity", "creator", "actor"];

/// An item id in a URL.
const ID: &str = "^[0-9]{1,18}$";
/// One id (`-1`: "no value") or several, comma separated: a Link or
/// Multilink filter.
const LINK_FILTER: &str = "^((-1|[0-9]{1,18})(,(-1|[0-9]{1,18}))*)?$";
/// Item ids, comma separated: the `id` filter.
const ID_FILTER: &str = "^([0-9]{1,18}(,[0-9]{1,18})*)?$";
/// One or several ids written to a Multilink, comma separated.
const ID_LIST: &str = "^[0-9]{1,18}(,[0-9]{1,18})*$";
const NUMBER: &str = "^-?[0-9]{1,9}(\\.[0-9]{1,6})?$";
const INTEGER: &str = "^-?[0-9]{1,9}$";
const BOOLEAN: &str = "^(yes|no|true|false|on|off|1|0)$";
const INTERVAL: &str = "^[-+]?[0-9]{1,4}[dw]$";
/// A calendar date, optionally with a time of day (UTC).
const DATE: &str =
    "[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(\\.([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?";
/// A date in a filter: a time with seconds is exact, no range, so the
/// filter takes days or minutes.
const FILTER_DATE: &str =
    "[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(\\.([01][0-9]|2[0-3]):[0-5][0-9])?";

/// The 64-bit integers the server parses.
fn int64() -> Json {
    json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
}

/// `^(a|b|c)$`-style alternatives of property names.
fn names_alt(names: &[String]) -> String {
    let escaped: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    format!("({})", escaped.join("|"))
}

/// A comma separated list of names (each optionally after `prefix`), or
/// nothing (an empty value is ignored).
fn name_list(names: &[String], prefix: &str) -> Json {
    let one = format!("{prefix}{}", names_alt(names));
    json!({"type": "string", "pattern": format!("^({one}(,{one})*)?$")})
}

fn link_schema(target: &str) -> Json {
    json!({
        "type": "object",
        "description": format!("A {target} item: its id and URL (with @verbose=2 also its label)."),
        "properties": {
            "id": {"type": "string"},
            "link": {"type": "string", "format": "uri"}
        },
        "required": ["id", "link"],
        "additionalProperties": true
    })
}

/// The JSON type of a property value in GET output.
fn prop_schema(name: &str, p: &Property) -> Json {
    let nullable = |s: Json| json!({"anyOf": [s, {"type": "null"}]});
    match p.ptype {
        PropType::String if name == "content" => nullable(json!({
            "anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"link": {"type": "string"}}}
            ]
        })),
        PropType::String => nullable(json!({"type": "string"})),
        PropType::Password => nullable(
            json!({"type": "string", "description": "never the hash: \"[password hidden scheme ...]\""}),
        ),
        PropType::Date => {
            nullable(json!({"type": "string", "description": "UTC date, yyyy-mm-dd.HH:MM:SS"}))
        }
        PropType::Interval => nullable(
            json!({"type": "string", "description": "Roundup interval, e.g. \"+ 1d 2:00\""}),
        ),
        PropType::Boolean => nullable(json!({"type": "boolean"})),
        PropType::Number => nullable(json!({"type": "number"})),
        PropType::Integer => nullable(json!({"type": "integer"})),
        PropType::Link => {
            let target = p.link_class.clone().unwrap_or_default();
            nullable(json!({"anyOf": [link_schema(&target), {"type": "string"}]}))
        }
        PropType::Multilink => {
            let target = p.link_class.clone().unwrap_or_default();
            json!({"type": "array", "items": {"anyOf": [link_schema(&target), {"type": "string"}]}})
        }
    }
}

/// How a request body carries values.
#[derive(Clone, Copy, PartialEq)]
enum Body {
    /// JSON: numbers and booleans are taken as their text, `null` leaves
    /// the property out (as in Roundup).
    Json,
    /// A urlencoded form: text only.
    Form,
}

/// Strip the anchors of a pattern, to embed it in another one.
fn inner(pattern: &str) -> &str {
    pattern
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or(pattern)
}

/// The value accepted when writing a property. An empty string unsets
/// it; a required property needs a value.
fn input_schema(p: &Property, required: bool, body: Body) -> Json {
    let empty = if required { "" } else { "|" };
    let text = |pattern: &str| json!({"type": "string", "pattern": format!("^({empty}{})$", inner(pattern))});
    let any_text = if required {
        json!({"type": "string", "minLength": 1})
    } else {
        json!({"type": "string"})
    };
    let json_id = json!({"type": "integer", "minimum": 0});
    let s = match (p.ptype, body) {
        (PropType::String | PropType::Password, Body::Form) => any_text,
        (PropType::String | PropType::Password, Body::Json) => json!({"anyOf": [
            any_text, {"type": ["number", "boolean", "object"]}
        ], "description": "text (other JSON values but lists are taken as their text)"}),
        (PropType::Date, _) => text(&format!("^{DATE}$")),
        (PropType::Interval, _) => text(INTERVAL),
        // -1, as in Roundup, means "no value" (the "- no selection -"
        // choice), where the property may be without one
        (PropType::Link, Body::Form) if !required => text(&format!("^(-1|{})$", inner(ID))),
        (PropType::Link, Body::Form) => text(ID),
        (PropType::Link, Body::Json) if !required => json!({"anyOf": [
            text(&format!("^(-1|{})$", inner(ID))),
            {"type": "integer", "minimum": -1}
        ], "description": "an item id (a key value works too); empty or -1: no value"}),
        (PropType::Link, Body::Json) => json!({"anyOf": [text(ID), json_id],
            "description": "an item id (a key value works too)"}),
        (PropType::Multilink, Body::Form) => text(ID_LIST),
        (PropType::Multilink, Body::Json) => json!({"anyOf": [
            {"type": "array", "items": {"anyOf": [{"type": "string", "pattern": format!("^({})?$", inner(ID))}, json_id]}},
            text(ID_LIST)
        ], "description": "ids as a list or comma separated (key values work too)"}),
        (PropType::Boolean, Body::Form) => text(BOOLEAN),
        (PropType::Boolean, Body::Json) => json!({"anyOf": [{"type": "boolean"}, text(BOOLEAN)]}),
        (PropType::Number, Body::Form) => text(NUMBER),
        (PropType::Number, Body::Json) => json!({"anyOf": [{"type": "number"}, text(NUMBER)]}),
        (PropType::Integer, Body::Form) => text(INTEGER),
        (PropType::Integer, Body::Json) => json!({"anyOf": [int64(), text(INTEGER)]}),
    };
    if body == Body::Json && !required {
        json!({"anyOf": [s, {"type": "null"}]})
    } else {
        s
    }
}

/// The filter parameter for a property in a collection query.
fn filter_schema(name: &str, p: &Property) -> (Json, &'static str) {
    let pat = |re: String| json!({"type": "string", "pattern": re});
    let optional = |re: &str| pat(format!("^({})?$", inner(re)));
    let range = format!("^(({FILTER_DATE})?;({FILTER_DATE})?|{FILTER_DATE})?$");
    match p.ptype {
        _ if name == "id" => (pat(ID_FILTER.into()), "comma separated ids"),
        PropType::String => (
            json!({"type": "string"}),
            "words to find (case-insensitive); use name: for exact match",
        ),
        PropType::Link | PropType::Multilink => (
            pat(LINK_FILTER.into()),
            "comma separated ids or key values (-1: no value)",
        ),
        PropType::Date => (pat(range), "a date, or a range from;to"),
        PropType::Interval => (optional(INTERVAL), "an interval"),
        PropType::Number => (optional(NUMBER), "a number"),
        PropType::Integer => (optional(INTEGER), "an integer"),
        PropType::Boolean => (optional(BOOLEAN), "yes or no"),
        PropType::Password => (json!({"type": "string"}), "not searchable"),
    }
}

/// Properties that can be written (declared, not computed).
fn writable(cls: &ClassDef) -> Vec<(&String, &Property)> {
    cls.props.iter().filter(|(_, p)| !p.is_computed()).collect()
}

/// The item as GET shows it, and the bodies that create one (JSON, form).
fn class_schemas(cls: &ClassDef) -> (Json, Json, Json) {
    let mut attrs = Map::new();
    let mut names = cls.prop_names(true);
    names.sort();
    for n in &names {
        if let Some(p) = cls.prop(n) {
            attrs.insert(n.clone(), prop_schema(n, p));
        }
    }
    let mut input = Map::new();
    let mut form = Map::new();
    let mut required = Vec::new();
    for (n, p) in writable(cls) {
        // a FileClass item needs its content
        let needed = p.required || cls.key.as_deref() == Some(n.as_str()) || cls.is_file_content(n);
        input.insert(n.clone(), input_schema(p, needed, Body::Json));
        form.insert(n.clone(), input_schema(p, needed, Body::Form));
        if needed {
            required.push(Json::from(n.clone()));
        }
    }
    let item = json!({
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string", "enum": [cls.name.clone()]},
                    "link": {"type": "string"},
                    "@etag": {"type": "string"},
                    "attributes": {"type": "object", "properties": Json::Object(attrs), "additionalProperties": true}
                },
                "required": ["id", "type", "link", "attributes", "@etag"]
            }
        },
        "required": ["data"]
    });
    let body = |props: Map<String, Json>, kind: Body| {
        let mut o = json!({
            "type": "object",
            "properties": Json::Object(props),
            "additionalProperties": false,
            "minProperties": 1
        });
        if required.is_empty() {
            o["anyOf"] = one_given(&o["properties"], kind);
        } else {
            o["required"] = Json::Array(required.clone());
        }
        o
    };
    (item, body(input, Body::Json), body(form, Body::Form))
}

/// "At least one of these members has a value": JSON nulls and empty
/// form fields count as not sent, and a body without any is refused.
fn one_given(props: &Json, kind: Body) -> Json {
    let given = match kind {
        Body::Json => json!({"not": {"type": "null"}}),
        Body::Form => json!({"minLength": 1}),
    };
    let names: Vec<&String> = props
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    Json::Array(
        names
            .into_iter()
            .map(|n| json!({"required": [n], "properties": {n.as_str(): given.clone()}}))
            .collect(),
    )
}

fn param(name: &str, location: &str, schema: Json, desc: &str) -> Json {
    json!({"name": name, "in": location, "required": location == "path", "schema": schema, "description": desc})
}

/// Statuses any operation may answer: bad or missing credentials, no
/// permission, an unacceptable Accept header or path extension, and the
/// rate limits.
const ALWAYS: [&str; 4] = [
    "401 bad credentials",
    "403 permission denied",
    "406 unacceptable output format or API version",
    "429 too many requests or failed logins",
];

fn error_response(desc: &str) -> Json {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn responses(ok: &str, ok_schema: Json, extra: &[&str]) -> Json {
    let mut r = Map::new();
    let (code, desc) = ok.split_once(' ').unwrap_or((ok, "OK"));
    if code == "204" {
        r.insert(code.into(), json!({"description": desc}));
    } else {
        r.insert(
            code.into(),
            json!({"description": desc, "content": {"application/json": {"schema": ok_schema}}}),
        );
    }
    for e in extra.iter().chain(ALWAYS.iter()) {
        let (c, d) = e.split_once(' ').unwrap_or((e, "error"));
        // a bad login and a login rate limit are plain text, as in Roundup
        let resp = if c == "401" || c == "429" {
            json!({"description": d, "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
        } else {
            error_response(d)
        };
        r.entry(c.to_string()).or_insert(resp);
    }
    Json::Object(r)
}

/// Responses with OpenAPI links (what a later call can take from this
/// answer) on one status.
fn with_links(mut responses: Json, status: &str, links: Json) -> Json {
    responses[status]["links"] = links;
    responses
}

/// An operation with (overriding) parameters added.
fn with_params(mut op: Json, params: &[Json]) -> Json {
    op["parameters"] = Json::Array(params.to_vec());
    op
}

fn options_op(id: &str, extra: &[&str]) -> Json {
    json!({
        "summary": "Allowed methods (CORS preflight)",
        "operationId": id,
        "responses": responses("204 no content", Json::Null, extra)
    })
}

/// Build the document for this tracker; `jwt` says whether JSON Web
/// Tokens are enabled (`[web] jwt_secret`).
pub fn openapi_document(db: &Db, base: &str, jwt: bool) -> Json {
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": {"error": {"type": "object", "properties": {
                "status": {"type": "integer"}, "msg": {}}, "required": ["status", "msg"]}},
            "required": ["error"]
        }),
    );
    schemas.insert(
        "Collection".into(),
        json!({
            "type": "object",
            "properties": {"data": {"type": "object", "properties": {
                "collection": {"type": "array", "items": {"type": "object",
                    "properties": {"id": {"type": "string"}, "link": {"type": "string"}},
                    "required": ["id", "link"], "additionalProperties": true}},
                "@total_size": {"type": "integer"},
                "@links": {"type": "object"}
            }, "required": ["collection"]}},
            "required": ["data"]
        }),
    );
    schemas.insert(
        "Roles".into(),
        json!({
            "type": "object",
            "properties": {"data": {"type": "object", "properties": {
                "collection": {"type": "array", "items": {"type": "object",
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                    "required": ["id", "name"]}}
            }, "required": ["collection"]}},
            "required": ["data"]
        }),
    );
    schemas.insert(
        "Created".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "id": {"type": "string"}, "link": {"type": "string"}}, "required": ["id", "link"]}},
            "required": ["data"]}),
    );
    schemas.insert(
        "Changed".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "id": {"type": "string"}, "type": {"type": "string"}, "link": {"type": "string"},
            "attribute": {"type": "object"}, "result": {}}, "required": ["id", "type", "link"]}},
            "required": ["data"]}),
    );
    schemas.insert(
        "Attribute".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "id": {"type": "string"}, "type": {"type": "string"}, "link": {"type": "string"},
            "data": {}, "@etag": {"type": "string"}}, "required": ["id", "type", "link", "data"]}},
            "required": ["data"]}),
    );
    schemas.insert(
        "Status".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "status": {"type": "string"}}, "required": ["status"]}}, "required": ["data"]}),
    );
    schemas.insert(
        "PoeToken".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "link": {"type": "string"}, "expires": {"type": "number"}},
            "required": ["link", "expires"]}}, "required": ["data"]}),
    );

    let verbose = param(
        "@verbose",
        "query",
        int64(),
        "0: ids only, 1: id and link (default), 2: also labels, 3: also file content",
    );
    let pretty = param(
        "@pretty",
        "query",
        json!({"type": "string"}),
        "false (any case): compact JSON; anything else: indented",
    );
    let apiver = param(
        "@apiver",
        "query",
        json!({"type": "integer", "enum": [1]}),
        "API version",
    );
    let if_match = param(
        "If-Match",
        "header",
        json!({"type": "string"}),
        "the item's ETag (or send it as @etag in the body); required for changes",
    );
    let read_errors = ["400 bad request", "404 not found"];
    let write_errors = [
        "400 bad request (including missing CSRF headers)",
        "404 not found",
        "405 property or change not allowed",
        "409 value rejected",
        "412 If-Match missing or stale",
    ];

    let mut class_names: Vec<String> = db.schema().classes.keys().cloned().collect();
    class_names.sort();
    for cn in &class_names {
        let Ok(cls) = db.class(cn) else { continue };
        let (item, input, form) = class_schemas(cls);
        let item_name = format!("{cn}_item");
        let input_name = format!("{cn}_input");
        let form_name = format!("{cn}_form");
        schemas.insert(item_name.clone(), item);
        schemas.insert(input_name.clone(), input.clone());
        schemas.insert(form_name.clone(), form);

        let mut all_props = cls.prop_names(true);
        all_props.sort();
        let searchable: Vec<String> = all_props
            .iter()
            .filter(|n| {
                cls.prop(n)
                    .is_some_and(|p| p.ptype != PropType::Password && !cls.is_file_content(n))
            })
            .cloned()
            .collect();
        let mut declared: Vec<String> = writable(cls).into_iter().map(|(n, _)| n.clone()).collect();
        declared.sort();
        let removable: Vec<String> = writable(cls)
            .into_iter()
            .filter(|(_, p)| !p.required)
            .map(|(n, _)| n.clone())
            .collect();

        let mut coll_params = vec![verbose.clone(), pretty.clone(), apiver.clone()];
        coll_params.push(param(
            "@page_size",
            "query",
            json!({"type": "integer", "minimum": i64::MIN, "maximum": 10_000_000}),
            "items per page (0 or less: no paging)",
        ));
        coll_params.push(param(
            "@page_index",
            "query",
            int64(),
            "page number, from 1",
        ));
        coll_params.push(param(
            "@sort",
            "query",
            name_list(&searchable, "[-+]?"),
            "comma separated properties, - for descending",
        ));
        coll_params.push(param(
            "@group",
            "query",
            name_list(&searchable, "[-+]?"),
            "comma separated properties, - for descending",
        ));
        coll_params.push(param(
            "@fields",
            "query",
            name_list(&all_props, ""),
            "comma separated properties to include (dotted paths through Links work too)",
        ));
        for pn in &searchable {
            let Some(p) = cls.prop(pn) else { continue };
            let (schema, desc) = filter_schema(pn, p);
            coll_params.push(param(pn, "query", schema, desc));
        }
        let id_param = param(
            "id",
            "path",
            json!({"type": "string", "pattern": ID}),
            "item id",
        );
        // GET finds an item by its key value too; OPTIONS does not look
        let get_id = match &cls.key {
            Some(k) => param(
                "id",
                "path",
                json!({"type": "string", "pattern": "^[^/]+$"}),
                &format!("item id, or the {k} (optionally as {k}=value)"),
            ),
            None => id_param.clone(),
        };
        let any_id = param(
            "id",
            "path",
            json!({"type": "string", "pattern": "^[^/]+$"}),
            "item id",
        );
        paths.insert(
            format!("/data/{cn}"),
            json!({
                "get": {
                    "summary": format!("List or search {cn} items"),
                    "operationId": format!("list_{cn}"),
                    "parameters": coll_params,
                    "responses": responses("200 collection", json!({"$ref": "#/components/schemas/Collection"}), &read_errors)
                },
                "post": {
                    "summary": format!("Create a {cn}"),
                    "operationId": format!("create_{cn}"),
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": {"$ref": format!("#/components/schemas/{input_name}")}},
                        "application/x-www-form-urlencoded": {"schema": {"$ref": format!("#/components/schemas/{form_name}")}}
                    }},
                    "responses": with_links(
                        responses("201 created", json!({"$ref": "#/components/schemas/Created"}), &write_errors),
                        "201",
                        json!({format!("Get{cn}"): {"operationId": format!("get_{cn}"),
                            "parameters": {"path.id": "$response.body#/data/id"}}}))
                },
                "options": options_op(&format!("options_{cn}"), &["400 bad preflight", "404 no such class"])
            }),
        );
        let mut put_body = input.clone();
        if let Some(o) = put_body.as_object_mut() {
            o.remove("required");
            if let Some(Json::Object(props)) = o.get_mut("properties") {
                props.insert("@etag".into(), json!({"type": "string"}));
            }
        }
        put_body["anyOf"] = one_given(&put_body["properties"], Body::Json);
        let mut patch_body = put_body.clone();
        if let Some(o) = patch_body.as_object_mut() {
            o.remove("anyOf");
        }
        if let Some(Json::Object(props)) = patch_body.get_mut("properties") {
            props.insert(
                "@op".into(),
                json!({"type": "string", "enum": ["add", "remove", "replace", "action"]}),
            );
            props.insert(
                "@action_name".into(),
                json!({"type": "string", "enum": ["retire", "restore"]}),
            );
        }
        paths.insert(
            format!("/data/{cn}/{{id}}"),
            json!({
                "parameters": [id_param.clone()],
                "get": {
                    "summary": format!("One {cn}"),
                    "operationId": format!("get_{cn}"),
                    "parameters": [get_id, verbose.clone(), pretty.clone(), apiver.clone(),
                        param("@fields", "query", name_list(&all_props, ""), "properties to include"),
                        param("@protected", "query", json!({"type": "string"}), "true (any case): include creation, activity, creator, actor and id")],
                    "responses": with_links(
                        responses("200 item", json!({"$ref": format!("#/components/schemas/{item_name}")}), &read_errors),
                        "200",
                        {
                            // a change with the ETag just read
                            let change = |op: &str| json!({"operationId": format!("{op}_{cn}"), "parameters": {
                                "path.id": "$response.body#/data/id",
                                "header.If-Match": "$response.header.ETag"}});
                            json!({"Put": change("put"), "Patch": change("patch"), "Retire": change("retire")})
                        })
                },
                "put": {
                    "summary": format!("Change properties of a {cn}"),
                    "operationId": format!("put_{cn}"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": put_body}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "patch": {
                    "summary": format!("Add to, remove from or replace properties of a {cn}; or retire/restore it"),
                    "operationId": format!("patch_{cn}"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": patch_body}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "delete": {
                    "summary": format!("Retire a {cn}"),
                    "operationId": format!("retire_{cn}"),
                    "parameters": [if_match.clone()],
                    "responses": responses("200 retired", json!({"$ref": "#/components/schemas/Status"}), &write_errors)
                },
                "options": with_params(options_op(&format!("options_{cn}_item"), &["400 bad preflight", "404 no such class"]), std::slice::from_ref(&any_id))
            }),
        );
        // Declared properties can be read and written one by one; the
        // protected ones only read (their paths follow below).
        let data_schema = json!({"anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}}
        ]});
        let enum_of = |names: &[String]| json!({"type": "string", "enum": names});
        if !declared.is_empty() {
            let prop_param =
                |names: &[String]| param("property", "path", enum_of(names), "property name");
            let mut ops = json!({
                "parameters": [id_param.clone(), prop_param(&declared)],
                "get": {
                    "summary": format!("One property of a {cn}"),
                    "operationId": format!("get_{cn}_property"),
                    "responses": responses("200 value", json!({"$ref": "#/components/schemas/Attribute"}), &read_errors)
                },
                "put": {
                    "summary": "Set the property",
                    "operationId": format!("put_{cn}_property"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": data_schema.clone(), "@etag": {"type": "string"}},
                        "required": ["data"], "additionalProperties": false}}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "patch": {
                    "summary": "Add to, remove from or replace the property",
                    "operationId": format!("patch_{cn}_property"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": data_schema.clone(), "@etag": {"type": "string"},
                            "@op": {"type": "string", "enum": ["add", "remove", "replace"]}},
                        "required": ["data"], "additionalProperties": false}}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "options": with_params(options_op(&format!("options_{cn}_property"), &["400 bad preflight", "404 no such property"]), std::slice::from_ref(&any_id))
            });
            if !removable.is_empty() {
                ops["delete"] = json!({
                    "summary": "Empty the property",
                    "operationId": format!("delete_{cn}_property"),
                    "parameters": [if_match.clone(), prop_param(&removable)],
                    "responses": responses("200 emptied", json!({"$ref": "#/components/schemas/Status"}), &write_errors)
                });
            }
            paths.insert(format!("/data/{cn}/{{id}}/{{property}}"), ops);
        }
        for pn in PROTECTED {
            paths.insert(
                format!("/data/{cn}/{{id}}/{pn}"),
                json!({
                    "parameters": [id_param.clone()],
                    "get": {
                        "summary": format!("The {pn} of a {cn} (read only)"),
                        "operationId": format!("get_{cn}_{pn}"),
                        "responses": responses("200 value", json!({"$ref": "#/components/schemas/Attribute"}), &read_errors)
                    },
                    "options": with_params(options_op(&format!("options_{cn}_{pn}"), &["400 bad preflight", "404 no such class"]), std::slice::from_ref(&any_id))
                }),
            );
        }
        paths.insert(
            format!("/data/{cn}/@poe"),
            json!({"post": {
                "summary": format!("A single-use URL to create a {cn} exactly once"),
                "operationId": format!("poe_{cn}"),
                "requestBody": {"required": false, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "lifetime": {"anyOf": [
                            {"type": "integer", "minimum": 1, "maximum": 3600},
                            {"type": "string", "pattern": "^([1-9][0-9]{0,2}|[1-2][0-9]{3}|3[0-5][0-9]{2}|3600)$"},
                            {"type": "null"}
                        ], "description": "seconds the URL stays valid (default 1800)"},
                        "generic": {"description": "present (any value): the URL may create an item of any class"}
                    }}}}},
                "responses": responses("200 token", json!({"$ref": "#/components/schemas/PoeToken"}), &["400 bad lifetime", "404 no such class"])
            }}),
        );
        paths.insert(
            format!("/data/{cn}/@poe/{{token}}"),
            json!({"post": {
                "summary": format!("Create a {cn} with a single-use URL from POST /data/{cn}/@poe"),
                "operationId": format!("poe_create_{cn}"),
                "parameters": [param("token", "path", json!({"type": "string", "pattern": "^[A-Za-z0-9]{40}$"}), "the token")],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": format!("#/components/schemas/{input_name}")}}}},
                "responses": responses("201 created", json!({"$ref": "#/components/schemas/Created"}), &write_errors)
            }}),
        );
    }
    let top_errors: &[&str] = &[];
    paths.insert(
        "/".into(),
        json!({
            "get": {"summary": "API versions and top links", "operationId": "describe",
                "parameters": [pretty.clone(), apiver.clone()],
                "responses": responses("200 description", json!({"type": "object"}), top_errors)},
            "options": options_op("options_describe", &["400 bad preflight"])
        }),
    );
    paths.insert(
        "/data".into(),
        json!({
            "get": {"summary": "Classes the caller may view", "operationId": "classes",
                "parameters": [pretty.clone(), apiver.clone()],
                "responses": responses("200 classes", json!({"type": "object"}), top_errors)},
            "options": options_op("options_classes", &["400 bad preflight"])
        }),
    );
    paths.insert(
        "/summary".into(),
        json!({"get": {"summary": "Issues active in the last week", "operationId": "summary",
            "parameters": [pretty.clone(), apiver.clone()],
            "responses": responses("200 summary", json!({"type": "object"}), &read_errors)}}),
    );
    paths.insert(
        "/data/user/roles".into(),
        json!({"get": {"summary": "All roles (Admin only)", "operationId": "roles",
            "parameters": [pretty.clone(), apiver.clone()],
            "responses": responses("200 roles", json!({"$ref": "#/components/schemas/Roles"}), &[])}}),
    );
    if jwt {
        paths.insert(
            "/jwt/issue".into(),
            json!({"post": {"summary": "Issue a JSON Web Token (Basic auth required)", "operationId": "jwt_issue",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
                    "additionalProperties": false, "minProperties": 1,
                    "properties": {
                        "lifetime": {"type": "string", "pattern": "^(unlimited|[0-9]{1,9})$"},
                        "roles": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": responses("200 token", json!({"type": "object"}), &["400 bad request"])}}),
        );
        paths.insert(
            "/jwt/validate".into(),
            json!({"get": {"summary": "Check a JSON Web Token", "operationId": "jwt_validate",
                "parameters": [{"name": "jwt", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1}, "description": "the token"}],
                "responses": responses("200 claims", json!({"type": "object"}), &["400 no token"])}}),
        );
    }
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"summary": "This document", "operationId": "openapi",
            "responses": responses("200 OpenAPI 3 document", json!({"type": "object"}), &[])}}),
    );
    let mut security = vec![json!({"basicAuth": []})];
    let mut schemes = Map::new();
    schemes.insert(
        "basicAuth".into(),
        json!({"type": "http", "scheme": "basic"}),
    );
    if jwt {
        security.push(json!({"bearerAuth": []}));
        schemes.insert(
            "bearerAuth".into(),
            json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
        );
    }
    security.push(json!({}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Roundup REST API",
            "version": "1",
            "description": "Roundup's REST interface for this tracker's schema. Responses are wrapped in {\"data\": ...}; errors are {\"error\": {\"status\", \"msg\"}}. Writes need an X-Requested-With header and a same-origin Origin or Referer header (CSRF protection), and changes to an existing item its current ETag (If-Match). Query and form fields with empty values are ignored."
        },
        "servers": [{"url": format!("{base}rest")}],
        "security": security,
        "paths": Json::Object(paths),
        "components": {
            "schemas": Json::Object(schemas),
            "securitySchemes": Json::Object(schemes)
        }
    })
}
