//! Micro-plugins: one trait, [`Micro`], over JSON values, exported with
//! [`export_micro!`](crate::export_micro). Isolation is declared in the
//! manifest: `limited` may use granted host interfaces, `strict` none.

use std::marker::PhantomData;

/// A JSON value, as micro-plugins receive and return them.
pub type Json = serde_json::Value;

/// Which declared micro-plugin is being called, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicroContext {
    /// The id declared in `plugin.toml`, e.g. `validate.email`.
    pub id: String,
    /// The routing key (user, session or machine), when the caller has one.
    pub key: Option<String>,
}

/// A component of single-purpose handlers. One component may serve several
/// declared micro-plugins; `ctx.id` says which one is called.
pub trait Micro {
    /// Turns input into output.
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String>;

    /// Accepts or rejects input without changing it. Validators implement
    /// this; the default accepts everything.
    fn validate(ctx: &MicroContext, input: &Json) -> Result<(), String> {
        let _ = (ctx, input);
        Ok(())
    }
}

pub(crate) fn run(
    input: &str,
    handler: impl FnOnce(Json) -> Result<Json, String>,
) -> Result<String, String> {
    let value: Json = serde_json::from_str(input).map_err(|e| format!("input is not JSON: {e}"))?;
    let output = handler(value)?;
    serde_json::to_string(&output).map_err(|e| format!("output is not JSON: {e}"))
}

pub(crate) fn check(
    input: &str,
    handler: impl FnOnce(&Json) -> Result<(), String>,
) -> Result<(), String> {
    let value: Json = serde_json::from_str(input).map_err(|e| format!("input is not JSON: {e}"))?;
    handler(&value)
}

/// Bridges a [`Micro`] to the generated export traits of both micro worlds.
#[doc(hidden)]
pub struct MicroAdapter<T>(PhantomData<T>);

impl<T: Micro> crate::micro_bindings::exports::lord::plugin::micro::Guest for MicroAdapter<T> {
    fn execute(
        input: String,
        ctx: crate::micro_bindings::lord::plugin::types::MicroContext,
    ) -> Result<String, String> {
        let ctx = MicroContext {
            id: ctx.id,
            key: ctx.key,
        };
        run(&input, |value| T::execute(&ctx, value))
    }

    fn validate(
        input: String,
        ctx: crate::micro_bindings::lord::plugin::types::MicroContext,
    ) -> Result<(), String> {
        let ctx = MicroContext {
            id: ctx.id,
            key: ctx.key,
        };
        check(&input, |value| T::validate(&ctx, value))
    }
}

/// Exports a type implementing [`Micro`] as this component's micro-plugins.
/// Whether it runs `limited` or `strict` is the manifest's choice.
#[macro_export]
macro_rules! export_micro {
    ($micro:ty) => {
        type __LordPdkMicroExported = $crate::micro_adapter::MicroAdapter<$micro>;
        $crate::micro_bindings::__export_micro_world!(
            __LordPdkMicroExported with_types_in $crate::micro_bindings
        );
    };
}
