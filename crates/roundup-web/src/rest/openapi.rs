//! An OpenAPI 3 description of the REST interface for the tracker's own
//! schema (served at `GET /rest/openapi.json`): every class with its
//! properties as JSON types, the collection, item and property endpoints
//! with their parameters, and the authentication schemes.

use roundup_core::schema::{ClassDef, PropType, Property};
use roundup_core::Db;
use serde_json::{json, Map, Value as Json};

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
        PropType::Password => {
            json!({"type": "string", "description": "never the hash: \"[password hidden scheme ...]\""})
        }
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

/// The JSON type accepted when writing a property.
fn input_schema(p: &Property) -> Json {
    match p.ptype {
        PropType::Multilink => json!({
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "string", "description": "comma separated ids or keys"}
            ]
        }),
        PropType::Boolean => json!({"anyOf": [{"type": "boolean"}, {"type": "string"}]}),
        PropType::Number => json!({"anyOf": [{"type": "number"}, {"type": "string"}]}),
        PropType::Integer => json!({"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        _ => json!({"type": "string"}),
    }
}

fn class_schemas(cls: &ClassDef) -> (Json, Json) {
    let mut attrs = Map::new();
    let mut names = cls.prop_names(true);
    names.sort();
    for n in &names {
        if let Some(p) = cls.prop(n) {
            attrs.insert(n.clone(), prop_schema(n, p));
        }
    }
    let mut input = Map::new();
    let mut required = Vec::new();
    for (n, p) in &cls.props {
        if p.is_computed() {
            continue;
        }
        input.insert(n.clone(), input_schema(p));
        if p.required || cls.key.as_deref() == Some(n.as_str()) {
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
    let mut input_obj =
        json!({"type": "object", "properties": Json::Object(input), "additionalProperties": true});
    if !required.is_empty() {
        input_obj["required"] = Json::Array(required);
    }
    (item, input_obj)
}

fn param(name: &str, location: &str, schema: Json, desc: &str) -> Json {
    json!({"name": name, "in": location, "required": location == "path", "schema": schema, "description": desc})
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
    for e in extra {
        let (c, d) = e.split_once(' ').unwrap_or((e, "error"));
        r.insert(
            c.into(),
            json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Json::Object(r)
}

/// Build the document for this tracker.
pub fn openapi_document(db: &Db, base: &str) -> Json {
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
        "Created".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "id": {"type": "string"}, "link": {"type": "string"}}, "required": ["id", "link"]}}}),
    );
    schemas.insert(
        "Changed".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "id": {"type": "string"}, "type": {"type": "string"}, "link": {"type": "string"},
            "attribute": {"type": "object"}, "result": {}}}}}),
    );
    schemas.insert(
        "Attribute".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "id": {"type": "string"}, "type": {"type": "string"}, "link": {"type": "string"},
            "data": {}, "@etag": {"type": "string"}}, "required": ["id", "type", "link", "data"]}}}),
    );
    schemas.insert(
        "Status".into(),
        json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
            "status": {"type": "string"}}}}}),
    );

    let common = vec![
        param(
            "@verbose",
            "query",
            json!({"type": "integer", "minimum": 0, "maximum": 3}),
            "0: ids only, 1: id and link (default), 2: also labels, 3: also file content",
        ),
        param(
            "@pretty",
            "query",
            json!({"type": "string", "enum": ["true", "false"]}),
            "false: compact JSON",
        ),
        param(
            "@apiver",
            "query",
            json!({"type": "integer", "enum": [1]}),
            "API version",
        ),
    ];
    let errors = ["400 bad request", "403 permission denied", "404 not found"];
    let write_errors = [
        "400 bad request",
        "403 permission denied",
        "404 not found",
        "409 value rejected",
        "412 If-Match missing or stale",
    ];

    let mut class_names: Vec<String> = db.schema().classes.keys().cloned().collect();
    class_names.sort();
    for cn in &class_names {
        let Ok(cls) = db.class(cn) else { continue };
        let (item, input) = class_schemas(cls);
        let item_name = format!("{cn}_item");
        let input_name = format!("{cn}_input");
        schemas.insert(item_name.clone(), item);
        schemas.insert(input_name.clone(), input);

        let mut coll_params = common.clone();
        coll_params.push(param(
            "@page_size",
            "query",
            json!({"type": "integer", "minimum": 1}),
            "items per page",
        ));
        coll_params.push(param(
            "@page_index",
            "query",
            json!({"type": "integer", "minimum": 1}),
            "page number, from 1",
        ));
        coll_params.push(param(
            "@sort",
            "query",
            json!({"type": "string"}),
            "comma separated properties, - for descending",
        ));
        coll_params.push(param(
            "@group",
            "query",
            json!({"type": "string"}),
            "comma separated properties, - for descending",
        ));
        coll_params.push(param(
            "@fields",
            "query",
            json!({"type": "string"}),
            "comma separated (transitive) properties to include",
        ));
        let mut pnames = cls.prop_names(true);
        pnames.sort();
        for pn in &pnames {
            let Some(p) = cls.prop(pn) else { continue };
            if p.ptype == PropType::Password || cls.is_file_content(pn) {
                continue;
            }
            let desc = match p.ptype {
                PropType::String => "case-insensitive substring; use name: for exact match",
                PropType::Link | PropType::Multilink => {
                    "comma separated ids or key values (-1 for empty)"
                }
                PropType::Date => "date or range (from;to)",
                _ => "value to match",
            };
            coll_params.push(param(pn, "query", json!({"type": "string"}), desc));
        }
        let class_param = |_: ()| {
            param(
                "id",
                "path",
                json!({"type": "string"}),
                "item id, or key value (name=value)",
            )
        };
        let coll_path = format!("/data/{cn}");
        paths.insert(
            coll_path,
            json!({
                "get": {
                    "summary": format!("List or search {cn} items"),
                    "operationId": format!("list_{cn}"),
                    "parameters": coll_params,
                    "responses": responses("200 collection", json!({"$ref": "#/components/schemas/Collection"}), &errors)
                },
                "post": {
                    "summary": format!("Create a {cn}"),
                    "operationId": format!("create_{cn}"),
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": {"$ref": format!("#/components/schemas/{input_name}")}},
                        "application/x-www-form-urlencoded": {"schema": {"$ref": format!("#/components/schemas/{input_name}")}}
                    }},
                    "responses": responses("201 created", json!({"$ref": "#/components/schemas/Created"}), &write_errors)
                },
                "options": {
                    "summary": "Allowed methods",
                    "operationId": format!("options_{cn}"),
                    "responses": {"204": {"description": "no content"}}
                }
            }),
        );
        let if_match = param(
            "If-Match",
            "header",
            json!({"type": "string"}),
            "the item's ETag",
        );
        paths.insert(
            format!("/data/{cn}/{{id}}"),
            json!({
                "parameters": [class_param(())],
                "get": {
                    "summary": format!("One {cn}"),
                    "operationId": format!("get_{cn}"),
                    "parameters": [common[0].clone(), common[1].clone(), common[2].clone(),
                        param("@fields", "query", json!({"type": "string"}), "properties to include"),
                        param("@protected", "query", json!({"type": "string", "enum": ["true", "false"]}), "include creation, activity, creator, actor, id")],
                    "responses": responses("200 item", json!({"$ref": format!("#/components/schemas/{item_name}")}), &errors)
                },
                "put": {
                    "summary": format!("Change properties of a {cn}"),
                    "operationId": format!("put_{cn}"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": {"$ref": format!("#/components/schemas/{input_name}")}}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "patch": {
                    "summary": format!("Add to, remove from or replace properties of a {cn}; or retire/restore it"),
                    "operationId": format!("patch_{cn}"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "@op": {"type": "string", "enum": ["add", "remove", "replace", "action"]},
                            "@action_name": {"type": "string", "enum": ["retire", "restore"]}
                        }, "additionalProperties": true}}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "delete": {
                    "summary": format!("Retire a {cn}"),
                    "operationId": format!("retire_{cn}"),
                    "parameters": [if_match.clone()],
                    "responses": responses("200 retired", json!({"$ref": "#/components/schemas/Status"}), &write_errors)
                },
                "options": {
                    "summary": "Allowed methods",
                    "operationId": format!("options_{cn}_item"),
                    "responses": {"204": {"description": "no content"}}
                }
            }),
        );
        let attr_names: Vec<Json> = pnames.iter().map(|n| Json::from(n.clone())).collect();
        paths.insert(
            format!("/data/{cn}/{{id}}/{{property}}"),
            json!({
                "parameters": [class_param(()),
                    param("property", "path", json!({"type": "string", "enum": attr_names}), "property name")],
                "get": {
                    "summary": format!("One property of a {cn}"),
                    "operationId": format!("get_{cn}_property"),
                    "responses": responses("200 value", json!({"$ref": "#/components/schemas/Attribute"}), &errors)
                },
                "put": {
                    "summary": "Set the property",
                    "operationId": format!("put_{cn}_property"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": {}}, "required": ["data"]}}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "patch": {
                    "summary": "Add to, remove from or replace the property",
                    "operationId": format!("patch_{cn}_property"),
                    "parameters": [if_match.clone()],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": {}, "@op": {"type": "string", "enum": ["add", "remove", "replace"]}},
                        "required": ["data"]}}}},
                    "responses": responses("200 changed", json!({"$ref": "#/components/schemas/Changed"}), &write_errors)
                },
                "delete": {
                    "summary": "Empty the property",
                    "operationId": format!("delete_{cn}_property"),
                    "parameters": [if_match],
                    "responses": responses("200 emptied", json!({"$ref": "#/components/schemas/Status"}), &write_errors)
                },
                "options": {
                    "summary": "Allowed methods",
                    "operationId": format!("options_{cn}_property"),
                    "responses": {"204": {"description": "no content"}}
                }
            }),
        );
        paths.insert(
            format!("/data/{cn}/@poe"),
            json!({"post": {
                "summary": format!("A single-use URL to create a {cn} exactly once"),
                "operationId": format!("poe_{cn}"),
                "responses": responses("200 token", json!({"type": "object"}), &errors)
            }}),
        );
    }
    paths.insert(
        "/".into(),
        json!({"get": {"summary": "API versions and top links", "operationId": "describe",
            "responses": responses("200 description", json!({"type": "object"}), &[])}}),
    );
    paths.insert(
        "/data".into(),
        json!({"get": {"summary": "Classes the caller may view", "operationId": "classes",
            "responses": responses("200 classes", json!({"type": "object"}), &[])}}),
    );
    paths.insert(
        "/summary".into(),
        json!({"get": {"summary": "Issues active in the last week", "operationId": "summary",
            "responses": responses("200 summary", json!({"type": "object"}), &errors)}}),
    );
    paths.insert(
        "/data/user/roles".into(),
        json!({"get": {"summary": "All roles (Admin only)", "operationId": "roles",
            "responses": responses("200 roles", json!({"$ref": "#/components/schemas/Collection"}), &["403 not an admin"])}}),
    );
    paths.insert(
        "/jwt/issue".into(),
        json!({"post": {"summary": "Issue a JSON Web Token (Basic auth required)", "operationId": "jwt_issue",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
                "properties": {"lifetime": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}}}}}}},
            "responses": responses("200 token", json!({"type": "object"}), &["400 bad request", "403 basic auth required"])}}),
    );
    paths.insert(
        "/jwt/validate".into(),
        json!({"get": {"summary": "Check a JSON Web Token", "operationId": "jwt_validate",
            "parameters": [param("jwt", "query", json!({"type": "string"}), "the token")],
            "responses": responses("200 claims", json!({"type": "object"}), &["400 no token", "401 invalid token"])}}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"summary": "This document", "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {}}}}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Roundup REST API",
            "version": "1",
            "description": "Roundup's REST interface for this tracker's schema. Responses are wrapped in {\"data\": ...}; errors are {\"error\": {\"status\", \"msg\"}}. Writes need an X-Requested-With header and a same-origin Origin or Referer header (CSRF protection)."
        },
        "servers": [{"url": format!("{base}rest")}],
        "security": [{"basicAuth": []}, {"bearerAuth": []}, {}],
        "paths": Json::Object(paths),
        "components": {
            "schemas": Json::Object(schemas),
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        }
    })
}
