//! Databases: a one-row `SELECT` on a SQLite file, the same statement on
//! the same process pool (`lord-db`'s) each time.
//!
//! - `db_query_overhead_ratio`: what `lord db query` does for a statement
//!   (the profile resolved through `Framework::db_connection`, a session
//!   taken from the pool by `lord_db::query`, the statement run, the rows
//!   written as `--json` prints them) against the bare session on the
//!   same pool running the same statement.
//! - `db_wasm_query_ratio`: the statement through `lord:plugin/sql` from
//!   the `benchdb` plugin's kept instance (`PluginInstance::run_command`
//!   through lord-host's public API: the guest's call, the grant check, the
//!   host's service, the rows lowered into the guest) against the same
//!   statement run natively on the pool, the name read from the row. Also
//!   reported without a goal: [`IN_CALL`] queries in one command against as
//!   many natively, which leaves the command's own entry out.
//!
//! Both in alternating batches, medians over batches.

use std::sync::Arc;

use anyhow::{Context as _, Result, ensure};
use lord_db_api::{Profile, Value};
use lord_host::{Framework, Invocation};

use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan, Samples};

const STATEMENT: &str = "SELECT id, name FROM t WHERE id = ?";

/// What the database figures measured.
#[derive(Debug, Clone)]
pub(crate) struct DbResults {
    /// `lord db query`'s machinery against the bare pooled session.
    pub(crate) query: Pair,
    /// Through a plugin against native, one query per command.
    pub(crate) wasm: Pair,
    /// The same with [`IN_CALL`] queries per command, per query: the
    /// interface's own cost without the command's entry.
    pub(crate) in_call: Pair,
    /// Where `query`'s difference goes: resolving the profile
    /// (`Framework::db_connection`) and collecting one row as `--json`
    /// does, each alone.
    pub(crate) resolve: Samples,
    pub(crate) collect: Samples,
}

/// Queries per command for [`DbResults::in_call`].
pub(crate) const IN_CALL: u32 = 100;

/// The native side: a session from the process's pool, the statement, the
/// name in its row.
fn native(profile: &Profile) -> Result<String> {
    let mut session = lord_db::pools().session(profile, None)?;
    let rows = session.run(STATEMENT, &[Value::Int(1)])?;
    match rows.rows.first().and_then(|row| row.get(1)) {
        Some(Value::Text(name)) => Ok(name.clone()),
        other => anyhow::bail!("unexpected row {other:?}"),
    }
}

/// What `lord db query bench --json` does for the statement: the profile
/// resolved, a session from the pool, the rows printed; the bytes printed.
fn machinery(framework: &Framework) -> Result<usize> {
    let (profile, password) = framework.db_connection("bench")?;
    let rows = lord_db::query(&profile, password, STATEMENT, &[Value::Int(1)])?;
    Ok(print_json(&rows)?.len())
}

/// The text `lord db query --json` prints for `rows`: the objects, pretty,
/// with hidden characters escaped.
fn print_json(rows: &lord_db_api::Rows) -> Result<String> {
    let text = serde_json::to_string_pretty(&rows.objects())?;
    Ok(lord_terminal::escape_json(&text).into_owned())
}

/// The table the statement reads: 1,000 rows.
fn fill(profile: &Profile, password: Option<&lord_db_api::Password>) -> Result<()> {
    lord_db::query(
        profile,
        password.cloned(),
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        &[],
    )?;
    for id in 1..=1000 {
        lord_db::query(
            profile,
            password.cloned(),
            "INSERT INTO t (id, name) VALUES (?, ?)",
            &[Value::Int(id), Value::Text(format!("row {id}"))],
        )?;
    }
    Ok(())
}

/// A framework whose profile `bench` is a filled SQLite file, as `lord db
/// add bench` writes it; the scratch folder holds both.
fn setup() -> Result<(tempfile::TempDir, Framework, Arc<Profile>)> {
    let scratch = tempfile::tempdir()?;
    let config = fixtures::host_config(scratch.path(), "home")?;
    let file = scratch.path().join("bench.db");
    // The profile `benchdb` is granted, as `lord db add bench` writes it.
    let user = config.home.join("config.toml");
    let mut text = std::fs::read_to_string(&user)?;
    text.push_str(&format!(
        "\n[db.profiles.bench]\nurl = {}\n",
        serde_json::to_string(&format!("sqlite://{}", file.display()))?
    ));
    std::fs::write(&user, text).with_context(|| format!("writing {}", user.display()))?;
    let framework = Framework::open(config)?.with_db_connector(Arc::new(lord_db::Connector));
    let (profile, password) = framework.db_connection("bench")?;
    fill(&profile, password.as_ref())?;
    Ok((scratch, framework, profile))
}

/// The `benchdb` plugin installed in `framework`, its instance kept.
async fn kept_benchdb(
    plugins: &Plugins,
    framework: &mut Framework,
) -> Result<lord_host::PluginInstance> {
    let dir = plugins.benchdb();
    fixtures::install(framework, std::slice::from_ref(&dir)).await?;
    let id = fixtures::manifest_of(&dir)?.plugin.id;
    Ok(framework.load(&id).await?)
}

fn one_query() -> Invocation {
    Invocation {
        command: "benchdb-query".to_owned(),
        args: Vec::new(),
    }
}

pub(crate) async fn measure(plugins: &Plugins, plan: Plan) -> Result<DbResults> {
    let (_scratch, mut framework, profile) = setup()?;

    eprintln!("lord-bench: db: lord db query's machinery ...");
    let machinery = || machinery(&framework);
    ensure!(
        print_json(&lord_db::query(
            &profile,
            None,
            STATEMENT,
            &[Value::Int(1)]
        )?)? == "[\n  {\n    \"id\": 1,\n    \"name\": \"row 1\"\n  }\n]",
        "the statement found another row"
    );
    ensure!(
        native(&profile)? == "row 1",
        "the native read found another row"
    );
    let query = timing::interleaved(
        plan,
        async || {
            machinery()?;
            Ok(())
        },
        async || {
            native(&profile)?;
            Ok(())
        },
    )
    .await?;

    let resolve = timing::single(plan, async || {
        framework.db_connection("bench")?;
        Ok(())
    })
    .await?;
    let one = lord_db::query(&profile, None, STATEMENT, &[Value::Int(1)])?;
    let collect = timing::single(plan, async || {
        ensure!(!print_json(&one)?.is_empty(), "one row");
        Ok(())
    })
    .await?;

    eprintln!("lord-bench: db: through lord:plugin/sql ...");
    let mut ours = kept_benchdb(plugins, &mut framework).await?;
    let invocation = one_query();
    let (text, _) = ours.run_command(&invocation).await?;
    ensure!(text == "row 1", "the plugin answered {text:?}");
    let wasm = timing::interleaved(
        plan,
        async || {
            ours.run_command(&invocation).await?;
            Ok(())
        },
        async || {
            native(&profile)?;
            Ok(())
        },
    )
    .await?;
    let many = Invocation {
        command: "benchdb-queries".to_owned(),
        args: vec![lord_host::CommandArg {
            name: "count".to_owned(),
            values: vec![IN_CALL.to_string()],
        }],
    };
    let in_call = timing::interleaved(
        plan,
        async || {
            ours.run_command(&many).await?;
            Ok(())
        },
        async || {
            for _ in 0..IN_CALL {
                native(&profile)?;
            }
            Ok(())
        },
    )
    .await?;
    Ok(DbResults {
        query,
        wasm,
        in_call,
        resolve,
        collect,
    })
}

/// `--profile-db`: the one-row SELECT through the plugin's kept instance,
/// natively, then as `lord db query --json` runs it, each alone, for a
/// profiler to tell apart.
pub(crate) async fn profile(plugins: &Plugins, plan: Plan) -> Result<()> {
    let (_scratch, mut framework, profile) = setup()?;
    let mut ours = kept_benchdb(plugins, &mut framework).await?;
    let invocation = one_query();
    let through = timing::single(plan, async || {
        ours.run_command(&invocation).await?;
        Ok(())
    })
    .await?;
    let native = timing::single(plan, async || {
        native(&profile)?;
        Ok(())
    })
    .await?;
    let printed = timing::single(plan, async || {
        machinery(&framework)?;
        Ok(())
    })
    .await?;
    eprintln!(
        "lord-bench: one-row SELECT through lord:plugin/sql: {:.0} ns, natively: {:.0} ns, as \
         `lord db query --json`: {:.0} ns",
        through.median_ns(),
        native.median_ns(),
        printed.median_ns()
    );
    Ok(())
}
