//! The OpenAPI 3.0 document of the registry's API, served at
//! `/api/v1/openapi.json`. Written out by hand beside the handlers it
//! describes; `schemathesis` runs against it in CI, so a drift between the
//! two shows up as a failed check.

use serde_json::{Value, json};

fn error_responses(codes: &[&str]) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for code in codes {
        map.insert(
            (*code).to_owned(),
            json!({"description": "An error: what went wrong and what to do.",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    map
}

fn responses(ok_code: &str, ok: Value, errors: &[&str]) -> Value {
    let mut map = error_responses(errors);
    map.insert(ok_code.to_owned(), ok);
    Value::Object(map)
}

fn json_ok(description: &str, schema: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description,
           "schema": {"type": "string"}})
}

/// The search endpoint's query parameters: text, filters, order and paging.
fn search_parameters() -> Value {
    json!([
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Free text; every word must match (as a prefix)."},
        {"name": "category", "in": "query", "schema": {"type": "string"}},
        {"name": "tag", "in": "query", "schema": {"type": "string"}, "description": "A keyword."},
        {"name": "author", "in": "query", "schema": {"type": "string"}},
        {"name": "min_rating", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 5}},
        {"name": "verified", "in": "query", "schema": {"type": "boolean"}},
        {"name": "permission", "in": "query", "schema": {"type": "string", "enum": ["fs-read", "fs-write", "net", "env", "secret", "exec", "db", "ai", "sys-metrics", "state-shared", "events-publish", "events-subscribe", "message", "tty"]}, "description": "Only plugins whose newest version asks for a permission of this family."},
        {"name": "max_risk", "in": "query", "schema": {"type": "string", "enum": ["low", "medium", "high", "critical"]}, "description": "Only plugins whose newest version is at most this risky."},
        {"name": "host_api", "in": "query", "schema": {"type": "string"}, "description": "Only plugins whose newest version works with this host API version, like `0.2.1`."},
        {"name": "publisher", "in": "query", "schema": {"type": "string"}, "description": "Only plugins signed by this key id."},
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["relevance", "downloads", "rating", "updated"]}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295u64}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295u64}}
    ])
}

/// The document.
pub fn document() -> Value {
    let id = path_param("id", "A plugin id, like `hello`.");
    let version = path_param("version", "A semantic version, like `1.2.0`.");
    let bearer = json!([{"token": []}]);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "lord-commander plugin registry",
            "version": "1.0.0",
            "description": "Search, inspect, download and publish signed lord plugin packages."
        },
        "paths": {
            "/api/v1/search": {"get": {
                "summary": "Search plugins",
                "parameters": search_parameters(),
                "responses": responses("200", json_ok("A page of results.", "SearchPage"), &["400"])
            }},
            "/api/v1/plugins/{id}": {"get": {
                "summary": "A plugin and its versions",
                "parameters": [id],
                "responses": responses("200", json_ok("The plugin.", "PluginInfo"), &["400", "404"])
            }},
            "/api/v1/plugins/{id}/versions/{version}/package": {"get": {
                "summary": "Download a package (counts a download)",
                "parameters": [id, version],
                "responses": responses("200", json!({"description": "The package bytes.",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
                    &["400", "404"])
            }},
            "/api/v1/plugins/{id}/versions/{version}/signature": {"get": {
                "summary": "A package's detached signature",
                "parameters": [id, version],
                "responses": responses("200", json_ok("The signature.", "Signature"), &["400", "404"])
            }},
            "/api/v1/plugins/{id}/versions/{version}/yanked": {"put": {
                "summary": "Yank or restore a version",
                "security": bearer,
                "parameters": [id, version],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Yank"}}}},
                "responses": responses("200", json_ok("The new state.", "Yank"), &["400", "401", "403", "404", "415", "422"])
            }},
            "/api/v1/plugins/{id}/rating": {"put": {
                "summary": "Rate a plugin (one rating per token)",
                "security": bearer,
                "parameters": [id],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rating"}}}},
                "responses": responses("200", json_ok("The rating.", "Rating"), &["400", "401", "404", "415", "422"])
            }},
            "/api/v1/keys/{key_id}": {"get": {
                "summary": "A signer's public key",
                "parameters": [path_param("key_id", "A key id (16 hexadecimal digits).")],
                "responses": responses("200", json!({"description": "The key, as `lord key export` prints it.",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}), &["404"])
            }},
            "/api/v1/publish": {"post": {
                "summary": "Publish a signed package",
                "security": bearer,
                "parameters": [
                    {"name": "lord-signature", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The package's signature JSON, compact."},
                    {"name": "lord-public-key", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The signer's public key line."}
                ],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": responses("201", json_ok("Published.", "Published"), &["401", "403", "409", "413", "422"])
            }},
            "/api/v1/tuf/{file}": {"get": {
                "summary": "Signed index metadata (TUF): 1.root.json, N.targets.json, N.snapshot.json, timestamp.json",
                "parameters": [path_param("file", "A metadata file name.")],
                "responses": responses("200", json!({"description": "The signed metadata.",
                    "content": {"application/json": {"schema": {"type": "object"}}}}), &["404"])
            }},
            "/api/v1/tuf/targets/plugins/{id}/{file}": {"get": {
                "summary": "A package at its TUF target path (consistent snapshots: SHA256.VERSION.lordpkg; counts a download)",
                "parameters": [id.clone(), path_param("file", "SHA256.VERSION.lordpkg")],
                "responses": responses("200", json!({"description": "The package bytes.",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
                    &["400", "404"])
            }},
            "/api/v1/releases": {"post": {
                "summary": "Publish a signed release of lord itself (a token with scope publish:lord)",
                "security": bearer,
                "parameters": [
                    {"name": "lord-signature", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The binary's signature JSON, compact."},
                    {"name": "lord-public-key", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The signer's public key line."},
                    {"name": "lord-release-version", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The release's version (SemVer)."},
                    {"name": "lord-release-platform", "in": "header", "required": true, "schema": {"type": "string"}, "description": "ARCH-OS, as x86_64-linux."}
                ],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": responses("201", json!({"description": "Published: its version, platform and digest.",
                    "content": {"application/json": {"schema": {"type": "object"}}}}), &["401", "403", "413", "422"])
            }},
            "/api/v1/tuf/targets/releases/{platform}/{file}": {"get": {
                "summary": "A release of lord at its TUF target path (SHA256.lord-VERSION)",
                "parameters": [path_param("platform", "ARCH-OS"), path_param("file", "SHA256.lord-VERSION")],
                "responses": responses("200", json!({"description": "The binary.",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
                    &["404"])
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }}
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        }
    })
}

/// The bodies the API speaks, as JSON Schema (`lord-registry-api`'s types).
fn schemas() -> Value {
    json!({
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "SearchHit": {"type": "object",
                    "required": ["id", "name", "description", "latest", "category", "keywords", "authors", "downloads", "rating", "ratings", "verified", "updated_ms", "relevance"],
                    "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
                        "latest": {"type": "string"}, "category": {"type": "string"},
                        "keywords": {"type": "array", "items": {"type": "string"}},
                        "authors": {"type": "array", "items": {"type": "string"}},
                        "downloads": {"type": "integer"}, "rating": {"type": "number"}, "ratings": {"type": "integer"},
                        "verified": {"type": "boolean"}, "updated_ms": {"type": "integer"}, "relevance": {"type": "number"}
                    }},
                "SearchPage": {"type": "object", "required": ["total", "hits"], "properties": {
                    "total": {"type": "integer"}, "hits": {"type": "array", "items": {"$ref": "#/components/schemas/SearchHit"}}}},
                "Version": {"type": "object",
                    "required": ["version", "digest", "size", "host_api", "dependencies", "yanked", "key", "published_ms"],
                    "properties": {
                        "version": {"type": "string"}, "digest": {"type": "string"}, "size": {"type": "integer"},
                        "host_api": {"type": "string"},
                        "dependencies": {"type": "object", "additionalProperties": {"type": "string"}},
                        "yanked": {"type": "boolean"}, "key": {"type": "string"}, "published_ms": {"type": "integer"}
                    }},
                "PluginInfo": {"allOf": [{"$ref": "#/components/schemas/SearchHit"}, {"type": "object",
                    "required": ["versions"], "properties": {
                        "license": {"type": "string", "nullable": true},
                        "versions": {"type": "array", "items": {"$ref": "#/components/schemas/Version"}}}}]},
                "Signature": {"type": "object", "required": ["version", "key", "digest", "signature"], "properties": {
                    "version": {"type": "integer"}, "key": {"type": "string"}, "digest": {"type": "string"}, "signature": {"type": "string"}}},
                "Published": {"type": "object", "required": ["id", "version", "digest"], "properties": {
                    "id": {"type": "string"}, "version": {"type": "string"}, "digest": {"type": "string"}}},
                "Rating": {"type": "object", "required": ["stars"], "additionalProperties": false, "properties": {
                    "stars": {"type": "integer", "minimum": 1, "maximum": 5}}},
                "Yank": {"type": "object", "required": ["yanked"], "additionalProperties": false, "properties": {
                    "yanked": {"type": "boolean"}}}
    })
}
