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
    let mut paths = serde_json::Map::new();
    for part in [
        package_paths(),
        index_paths(),
        community_paths(),
        use_paths(),
        crate::rollouts::openapi_paths(),
        crate::approvals::openapi_paths(),
        security_paths(),
        page_paths(),
    ] {
        if let Value::Object(part) = part {
            paths.extend(part);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "lord-commander plugin registry",
            "version": "1.0.0",
            "description": "Search, inspect, download and publish signed lord plugin packages; review, discuss and moderate; report use and get recommendations and insights."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        }
    })
}

/// Search, plugin records, packages, publishing, yanking and rating.
fn package_paths() -> Value {
    let id = path_param("id", "A plugin id, like `hello`.");
    let version = path_param("version", "A semantic version, like `1.2.0`.");
    let bearer = json!([{"token": []}]);
    json!({
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
        }}
    })
}

/// The signed index (TUF), releases of lord, and this document.
fn index_paths() -> Value {
    let id = path_param("id", "A plugin id, like `hello`.");
    let bearer = json!([{"token": []}]);
    json!({
            "/api/v1/tuf/{file}": {"get": {
                "summary": "Signed index metadata (TUF): 1.root.json, N.targets.json, N.bins-XX.json (a plugin's hashed bin), N.snapshot.json, timestamp.json",
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
            "/api/v1/tuf/targets/policies/{file}": {"get": {
                "summary": "The organisation's Cedar policies at their TUF target path (SHA256.registry.cedar)",
                "parameters": [path_param("file", "SHA256.registry.cedar")],
                "responses": responses("200", json!({"description": "The policies.",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}),
                    &["404"])
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }}
    })
}

/// Install receipts, reviews, discussions and moderation.
fn community_paths() -> Value {
    let id = path_param("id", "A plugin id, like `hello`.");
    let version = path_param("version", "A semantic version, like `1.2.0`.");
    let kind = json!({"name": "kind", "in": "path", "required": true,
        "description": "What is reported or moderated.",
        "schema": {"type": "string", "enum": ["review", "post"]}});
    let target = json!({"name": "target", "in": "path", "required": true,
        "description": "The review's or post's number.", "schema": {"type": "integer", "format": "int64"}});
    let bearer = json!([{"token": []}]);
    let body = |schema: &str| json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    let list = |description: &str, schema: &str| {
        json!({"description": description,
        "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": format!("#/components/schemas/{schema}")}}}}})
    };
    json!({
        "/api/v1/plugins/{id}/versions/{version}/receipt": {"post": {
            "summary": "The install receipt for the package the caller just installed (the digest must be the one published)",
            "security": bearer,
            "parameters": [id, version],
            "requestBody": body("ReceiptRequest"),
            "responses": responses("200", json_ok("The receipt, signed under the receipt key.", "ReceiptAnswer"), &["400", "401", "404", "415", "422"])
        }},
        "/api/v1/receipts/key": {"get": {
            "summary": "The public key install receipts are signed with",
            "responses": responses("200", json_ok("The key.", "ReceiptKey"), &[])
        }},
        "/api/v1/plugins/{id}/versions/{version}/review": {"put": {
            "summary": "Review a version (one review per account and version; an edit keeps the earlier text); needs the account's install receipt",
            "security": bearer,
            "parameters": [id, version],
            "requestBody": body("ReviewRequest"),
            "responses": responses("200", json_ok("The review as recorded.", "ReviewInfo"), &["400", "401", "403", "404", "415", "422"])
        }},
        "/api/v1/plugins/{id}/reviews": {"get": {
            "summary": "A plugin's visible reviews, newest first",
            "parameters": [id],
            "responses": responses("200", list("The reviews.", "ReviewInfo"), &["400"])
        }},
        "/api/v1/plugins/{id}/posts": {
            "get": {
                "summary": "A plugin's visible discussion, oldest first",
                "parameters": [id],
                "responses": responses("200", list("The posts.", "PostInfo"), &["400"])
            },
            "post": {
                "summary": "Post to a plugin's discussion",
                "security": bearer,
                "parameters": [id],
                "requestBody": body("PostRequest"),
                "responses": responses("201", json_ok("The post as recorded (hidden when the spam filter held it).", "PostInfo"), &["400", "401", "404", "415", "422"])
            }
        },
        "/api/v1/moderation/{kind}/{target}/report": {"post": {
            "summary": "Report a review or post to the moderators",
            "security": bearer,
            "parameters": [kind, target],
            "requestBody": body("ReportRequest"),
            "responses": responses("202", json!({"description": "Reported."}), &["400", "401", "404", "415", "422"])
        }},
        "/api/v1/moderation/{kind}/{target}/hidden": {"put": {
            "summary": "Hide or show a review or post (a token with scope moderate); audited with the moderator's name",
            "security": bearer,
            "parameters": [kind, target],
            "requestBody": body("ModerationRequest"),
            "responses": responses("200", json_ok("The new state.", "ModerationRequest"), &["400", "401", "403", "404", "415", "422"])
        }},
        "/api/v1/moderation/audit": {"get": {
            "summary": "The moderation audit, newest first (a token with scope moderate)",
            "security": bearer,
            "responses": responses("200", list("Who did what, to which content, why.", "AuditEntry"), &["401", "403"])
        }}
    })
}

/// Opt-in use reports, recommendations and insights.
fn use_paths() -> Value {
    json!({
        "/api/v1/usage": {"post": {
            "summary": "Report an installation's use today (opt-in; the installation id is kept only as a hash under a salt of the day)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UsageReport"}}}},
            "responses": responses("202", json!({"description": "Recorded."}), &["400", "415", "422"])
        }},
        "/api/v1/recommendations": {"get": {
            "summary": "Plugins recommended for an installation holding the plugins named",
            "parameters": [
                {"name": "installed", "in": "query", "required": true, "schema": {"type": "string"}, "description": "Installed plugin ids, comma-separated."},
                {"name": "host_api", "in": "query", "schema": {"type": "string"}, "description": "The host API to be compatible with, like `0.2.1`."},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295u64}}
            ],
            "responses": responses("200", json!({"description": "The recommendations, best first.",
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Recommendation"}}}}}), &["400"])
        }},
        "/api/v1/insights": {"get": {
            "summary": "Rising error rates, abandoned plugins and permission creep across the registry",
            "responses": responses("200", json_ok("What the registry noticed, by kind.", "RegistryInsights"), &[])
        }},
        "/api/v1/plugins/{id}/insights": {"get": {
            "summary": "What the registry noticed about one plugin",
            "parameters": [path_param("id", "A plugin id, like `hello`.")],
            "responses": responses("200", json!({"description": "The insights.",
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Insight"}}}}}), &["400", "404"])
        }}
    })
}

/// The security feed (OSV advisories) and publish-time scan reports.
fn security_paths() -> Value {
    let object = |description: &str| {
        json!({"description": description,
               "content": {"application/json": {"schema": {"type": "object"}}}})
    };
    json!({
        "/api/v1/advisories": {"get": {
            "summary": "The OSV advisories naming a plugin, as OSV's query API answers ({\"vulns\": [...]})",
            "parameters": [{"name": "package", "in": "query", "required": true, "schema": {"type": "string"}, "description": "A plugin id, like `hello`."}],
            "responses": responses("200", object("The advisories, by id."), &["400"])
        }},
        "/api/v1/advisories/{id}": {"get": {
            "summary": "One OSV advisory, as it was added",
            "parameters": [path_param("id", "An advisory id, like `LORD-2026-0001`.")],
            "responses": responses("200", object("The advisory (OSV JSON)."), &["404"])
        }},
        "/api/v1/plugins/{id}/versions/{version}/scan": {"get": {
            "summary": "The report of the security scan run when the version was published",
            "parameters": [path_param("id", "A plugin id, like `hello`."), path_param("version", "A version, like `0.1.0`.")],
            "responses": responses("200", object("The findings, worst first, each with a rule, severity, message and location."), &["400", "404"])
        }}
    })
}

/// The web pages (HTML), which answer bad input with an error page too.
fn page_paths() -> Value {
    let html = |description: &str| json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}});
    let text = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}});
    let search = json!([
        text("q"), text("category"), text("permission"), text("max_risk"), text("host_api"),
        text("verified"), text("sort"),
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295u64}}
    ]);
    let page = |summary: &str, parameters: Value, errors: &[&str]| {
        let mut answers = serde_json::Map::new();
        for code in errors {
            answers.insert(
                (*code).to_owned(),
                html("An error page: what went wrong and what to do."),
            );
        }
        answers.insert("200".to_owned(), html("The page."));
        json!({"get": {"summary": summary, "parameters": parameters, "responses": answers}})
    };
    json!({
        "/": page("Search, with filters and sorting", search, &["400"]),
        "/plugins/{id}": page("A plugin's page", json!([path_param("id", "A plugin id, like `hello`.")]), &["400", "404"]),
        "/publishers/{key_id}": page("A publisher's page", json!([path_param("key_id", "A key id (16 hexadecimal digits).")]), &["400", "404"]),
        "/insights": page("Insights across the registry", json!([]), &[])
    })
}

/// The bodies the API speaks, as JSON Schema (`lord-registry-api`'s types).
fn schemas() -> Value {
    let mut all = package_schemas();
    for part in [
        community_schemas(),
        crate::rollouts::openapi_schemas(),
        crate::approvals::openapi_schemas(),
    ] {
        if let (Value::Object(all), Value::Object(more)) = (&mut all, part) {
            all.extend(more);
        }
    }
    all
}

/// Search, plugin and package bodies.
fn package_schemas() -> Value {
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
                    "stars": {"type": "integer", "minimum": 1, "maximum": 5},
                    "receipt": {"type": "string", "nullable": true, "description": "The account's install receipt."}}},
                "Yank": {"type": "object", "required": ["yanked"], "additionalProperties": false, "properties": {
                    "yanked": {"type": "boolean"}}}
    })
}

/// The community, use, recommendation and insight bodies.
fn community_schemas() -> Value {
    let object = |required: &[&str], properties: Value| {
        json!({"type": "object",
        "required": required, "properties": properties})
    };
    let closed = |required: &[&str], properties: Value| {
        json!({"type": "object",
        "required": required, "additionalProperties": false, "properties": properties})
    };
    let string = json!({"type": "string"});
    let integer = json!({"type": "integer", "format": "int64"});
    let count = json!({"type": "integer", "minimum": 0});
    let boolean = json!({"type": "boolean"});
    let insight = json!({"$ref": "#/components/schemas/Insight"});
    json!({
        "ReceiptRequest": closed(&["digest"], json!({"digest": string})),
        "ReceiptAnswer": object(&["receipt"], json!({"receipt": string})),
        "ReceiptKey": object(&["algorithm", "public_key"], json!({"algorithm": string, "public_key": string})),
        "ReviewRequest": closed(&["stars", "receipt"], json!({
            "stars": {"type": "integer", "minimum": 0, "maximum": 255},
            "text": string, "receipt": string})),
        "ReviewInfo": object(&["id", "plugin", "version", "author", "stars", "text", "edits", "hidden", "created_ms", "updated_ms"], json!({
            "id": integer, "plugin": string, "version": string, "author": string,
            "stars": {"type": "integer"}, "text": string, "edits": count, "hidden": boolean,
            "created_ms": integer, "updated_ms": integer})),
        "PostRequest": closed(&["text"], json!({"text": string})),
        "PostInfo": object(&["id", "plugin", "author", "text", "hidden", "created_ms"], json!({
            "id": integer, "plugin": string, "author": string, "text": string,
            "hidden": boolean, "created_ms": integer})),
        "ReportRequest": closed(&["reason"], json!({"reason": string})),
        "ModerationRequest": closed(&["hidden", "reason"], json!({"hidden": boolean, "reason": string})),
        "AuditEntry": object(&["at_ms", "moderator", "action", "kind", "target", "reason"], json!({
            "at_ms": integer, "moderator": string, "action": string, "kind": string,
            "target": integer, "reason": string})),
        "PluginUsage": closed(&["id", "version"], json!({
            "id": string, "version": string,
            "runs": {"type": "integer", "minimum": 0, "maximum": 9007199254740991u64},
            "errors": {"type": "integer", "minimum": 0, "maximum": 9007199254740991u64},
            "p95_us": {"type": "integer", "minimum": 0, "maximum": 9007199254740991u64}})),
        "UsageReport": closed(&["installation", "host_api", "plugins"], json!({
            "installation": {"type": "string", "description": "A random id the client keeps (16 to 64 letters, digits or `-`)."},
            "host_api": string,
            "plugins": {"type": "array", "items": {"$ref": "#/components/schemas/PluginUsage"}}})),
        "Recommendation": object(&["id", "name", "description", "score"], json!({
            "id": string, "name": string, "description": string, "score": {"type": "number"},
            "because": {"type": "string", "nullable": true}})),
        "Insight": object(&["plugin", "kind", "text"], json!({
            "plugin": string,
            "kind": {"type": "string", "enum": ["rising-errors", "abandoned", "permission-creep"]},
            "text": string})),
        "RegistryInsights": object(&["rising_errors", "abandoned", "permission_creep"], json!({
            "rising_errors": {"type": "array", "items": insight},
            "abandoned": {"type": "array", "items": insight},
            "permission_creep": {"type": "array", "items": insight}}))
    })
}
