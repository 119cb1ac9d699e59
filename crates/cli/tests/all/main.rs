//! End-to-end tests of the `lord` binary: real processes, real SQLite, real
//! wasmtime, the fixture plugins under `plugins/` (build them first with
//! `cargo xtask plugins`), and a real TCP listener on loopback.
#![expect(
    clippy::disallowed_macros,
    reason = "tests say on their own stderr why they skip; the CLI's rule is for the binary"
)]

/// The real model's server (llama.cpp's `llama-server`, built by `.ci/llm`),
/// as lord-ai's own tests start it.
#[path = "../../../ai/tests/all/llama_server.rs"]
mod llama_server;
/// Throwaway MariaDB servers, as lord-db's own tests start them.
#[path = "../../../db/tests/support/mariadb.rs"]
#[expect(
    dead_code,
    reason = "lord's tests start plain servers; the TLS helpers are lord-db's"
)]
mod mariadb;
/// The MongoDB wire-protocol emulator, as lord-db's own tests start it.
#[path = "../../../db/tests/support/mongo.rs"]
mod mongo;
/// Throwaway PostgreSQL servers, as the registry's own tests start them.
#[path = "../../../registry/tests/support/mod.rs"]
#[expect(
    dead_code,
    reason = "lord's tests start plain servers; the TLS helpers are the registry's"
)]
mod pg;
/// Throwaway Redis servers, as lord-db's own tests start them.
#[path = "../../../db/tests/support/redis.rs"]
#[expect(
    dead_code,
    reason = "lord's tests connect by URL; the port is for lord-db's ACL case"
)]
mod redis;
mod support;

mod ai;
mod alerts;
mod analytics;
mod approval;
mod audit;
mod budgets;
mod compat;
mod completions;
mod concurrency;
mod config;
mod crash;
mod dashboard;
mod db;
mod db_backup;
mod db_backup_redis_mongo;
mod db_copy;
mod db_engines;
mod db_plugins;
mod db_shell;
mod dependencies;
mod dev;
mod exec;
mod exec_program;
mod git_plugin;
mod grants;
mod hostile;
mod http;
mod js_fetch;
mod lifecycle;
mod logging;
mod micro;
mod monitor;
mod monitor_web;
mod namespaces;
mod own_state;
mod packages;
mod pdk;
mod perf;
mod plugin_metrics;
mod policy;
mod providers;
mod quotas;
mod refusals;
mod registry;
mod registry_community;
mod registry_demo;
mod registry_https;
mod registry_pin;
mod registry_root;
mod registry_servers;
mod registry_tuf;
mod registry_web;
mod rollout;
mod scan;
mod secrets;
mod self_update;
mod state;
mod syncs;
mod terminal;
mod tidy;
mod tmux;
mod untouched;
mod updater;
mod workspace;
