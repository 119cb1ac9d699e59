//! `cargo xtask contract`: the WIT contract may only grow within a line.
//!
//! Every released contract is frozen beside its compatibility fixtures
//! (`tests/compat/<version>/lord-plugin.wit`). The current
//! `wit/lord-plugin.wit` is checked against the newest released one of its
//! line: same package, a version not older, and, if anything changed, a
//! newer version whose changes are additive. Additive means what a plugin
//! built against the released text relies on is still there, unchanged:
//!
//! - every interface, every type in it with the same definition, every
//!   function with the same parameters and result;
//! - every world, with every import it had (a host may offer more);
//! - interfaces a plugin *exports* gain no functions (a plugin built before
//!   would not have them; new exports come as new interfaces the host
//!   treats as optional).
//!
//! Types are compared by structure, named types by name and definition.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use wit_parser::{
    Function, InterfaceId, PackageId, Resolve, Type, TypeDefKind, TypeId, TypeOwner, WorldItem,
    WorldKey,
};

/// One parsed contract: the resolve and its `lord:plugin` package.
struct Contract {
    resolve: Resolve,
    package: PackageId,
}

impl Contract {
    fn parse(name: &str, text: &str) -> Result<Self> {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str(name, text)
            .with_context(|| format!("parsing {name}"))?;
        Ok(Self { resolve, package })
    }

    fn version(&self) -> Option<&semver::Version> {
        self.resolve.packages[self.package].name.version.as_ref()
    }

    fn interface(&self, name: &str) -> Option<InterfaceId> {
        self.resolve.packages[self.package]
            .interfaces
            .get(name)
            .copied()
    }

    /// A type as text: primitives by name, named types by their owner and
    /// name, anonymous ones by structure.
    fn ty(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::U16 => "u16".into(),
            Type::U32 => "u32".into(),
            Type::U64 => "u64".into(),
            Type::S8 => "s8".into(),
            Type::S16 => "s16".into(),
            Type::S32 => "s32".into(),
            Type::S64 => "s64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => "string".into(),
            Type::ErrorContext => "error-context".into(),
            Type::Id(id) => self.named_or_shape(*id),
        }
    }

    fn named_or_shape(&self, id: TypeId) -> String {
        let def = &self.resolve.types[id];
        match (&def.name, def.owner) {
            (Some(name), TypeOwner::Interface(owner)) => {
                let iface = self.resolve.interfaces[owner]
                    .name
                    .as_deref()
                    .unwrap_or("?");
                format!("{iface}.{name}")
            }
            (Some(name), TypeOwner::World(_) | TypeOwner::None) => name.clone(),
            (None, _) => self.shape(id),
        }
    }

    /// A type's definition as text.
    fn shape(&self, id: TypeId) -> String {
        let opt = |t: &Option<Type>| t.as_ref().map_or("_".to_owned(), |t| self.ty(t));
        match &self.resolve.types[id].kind {
            TypeDefKind::Record(r) => {
                let fields: Vec<String> = r
                    .fields
                    .iter()
                    .map(|f| format!("{}: {}", f.name, self.ty(&f.ty)))
                    .collect();
                format!("record {{ {} }}", fields.join(", "))
            }
            TypeDefKind::Resource => "resource".into(),
            TypeDefKind::Handle(wit_parser::Handle::Own(t)) => {
                format!("own<{}>", self.named_or_shape(*t))
            }
            TypeDefKind::Handle(wit_parser::Handle::Borrow(t)) => {
                format!("borrow<{}>", self.named_or_shape(*t))
            }
            TypeDefKind::Flags(f) => {
                let names: Vec<&str> = f.flags.iter().map(|f| f.name.as_str()).collect();
                format!("flags {{ {} }}", names.join(", "))
            }
            TypeDefKind::Tuple(t) => {
                let types: Vec<String> = t.types.iter().map(|t| self.ty(t)).collect();
                format!("tuple<{}>", types.join(", "))
            }
            TypeDefKind::Variant(v) => {
                let cases: Vec<String> = v
                    .cases
                    .iter()
                    .map(|c| format!("{}({})", c.name, opt(&c.ty)))
                    .collect();
                format!("variant {{ {} }}", cases.join(", "))
            }
            TypeDefKind::Enum(e) => {
                let cases: Vec<&str> = e.cases.iter().map(|c| c.name.as_str()).collect();
                format!("enum {{ {} }}", cases.join(", "))
            }
            TypeDefKind::Option(t) => format!("option<{}>", self.ty(t)),
            TypeDefKind::Result(r) => format!("result<{}, {}>", opt(&r.ok), opt(&r.err)),
            TypeDefKind::List(t) => format!("list<{}>", self.ty(t)),
            TypeDefKind::Map(k, v) => format!("map<{}, {}>", self.ty(k), self.ty(v)),
            TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", self.ty(t)),
            TypeDefKind::Future(t) => format!("future<{}>", opt(t)),
            TypeDefKind::Stream(t) => format!("stream<{}>", opt(t)),
            TypeDefKind::Type(t) => self.ty(t),
            TypeDefKind::Unknown => "unknown".into(),
        }
    }

    fn signature(&self, f: &Function) -> String {
        let params: Vec<String> = f
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, self.ty(&p.ty)))
            .collect();
        let result = f
            .result
            .as_ref()
            .map_or(String::new(), |t| format!(" -> {}", self.ty(t)));
        format!("func({}){result}", params.join(", "))
    }

    /// A world's import or export by name, without the package version
    /// (which a compatible release changes).
    fn key(&self, key: &WorldKey) -> String {
        match key {
            WorldKey::Name(name) => name.clone(),
            WorldKey::Interface(id) => {
                let iface = &self.resolve.interfaces[*id];
                let package = iface
                    .package
                    .map(|p| self.resolve.packages[p].name.name.clone())
                    .unwrap_or_default();
                let namespace = iface
                    .package
                    .map(|p| self.resolve.packages[p].name.namespace.clone())
                    .unwrap_or_default();
                format!(
                    "{namespace}:{package}/{}",
                    iface.name.as_deref().unwrap_or("?")
                )
            }
        }
    }

    /// Names of the interfaces some world of this contract exports.
    fn exported(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for world in self.resolve.packages[self.package].worlds.values() {
            for item in self.resolve.worlds[*world].exports.values() {
                if let WorldItem::Interface { id, .. } = item
                    && let Some(name) = &self.resolve.interfaces[*id].name
                {
                    names.insert(name.clone());
                }
            }
        }
        names
    }
}

/// What `current` breaks of `released`; empty when it only adds (or is
/// the same text).
fn breaks(released: &Contract, current: &Contract) -> Vec<String> {
    let mut found = Vec::new();
    let exported = released.exported();
    for (name, old_id) in &released.resolve.packages[released.package].interfaces {
        let Some(new_id) = current.interface(name) else {
            found.push(format!("interface `{name}` was removed"));
            continue;
        };
        let (old, new) = (
            &released.resolve.interfaces[*old_id],
            &current.resolve.interfaces[new_id],
        );
        for (ty, old_ty) in &old.types {
            match new.types.get(ty) {
                None => found.push(format!("type `{name}.{ty}` was removed")),
                Some(new_ty) => {
                    let (was, is) = (released.shape(*old_ty), current.shape(*new_ty));
                    if was != is {
                        found.push(format!("type `{name}.{ty}` changed from `{was}` to `{is}`"));
                    }
                }
            }
        }
        for (func, old_f) in &old.functions {
            match new.functions.get(func) {
                None => found.push(format!("function `{name}.{func}` was removed")),
                Some(new_f) => {
                    let (was, is) = (released.signature(old_f), current.signature(new_f));
                    if was != is {
                        found.push(format!(
                            "function `{name}.{func}` changed from `{was}` to `{is}`"
                        ));
                    }
                }
            }
        }
        if exported.contains(name) {
            for func in new
                .functions
                .keys()
                .filter(|f| !old.functions.contains_key(*f))
            {
                found.push(format!(
                    "function `{name}.{func}` was added to an interface plugins export; a \
                     plugin built before would lack it: add a new interface instead"
                ));
            }
        }
    }
    for (name, old_world) in &released.resolve.packages[released.package].worlds {
        let Some(new_world) = current.resolve.packages[current.package].worlds.get(name) else {
            found.push(format!("world `{name}` was removed"));
            continue;
        };
        let new_imports: BTreeSet<String> = current.resolve.worlds[*new_world]
            .imports
            .keys()
            .map(|k| current.key(k))
            .collect();
        for key in released.resolve.worlds[*old_world].imports.keys() {
            let key = released.key(key);
            if !new_imports.contains(&key) {
                found.push(format!("world `{name}` no longer imports `{key}`"));
            }
        }
    }
    found
}

/// Checks `current` (the text of `wit/lord-plugin.wit`) against `released`
/// (the last released text of its line): what it breaks, or a version
/// that does not say it changed.
pub(crate) fn check(released: &str, current: &str) -> Result<()> {
    let old = Contract::parse("released.wit", released)?;
    let new = Contract::parse("current.wit", current)?;
    let (Some(was), Some(is)) = (old.version().cloned(), new.version().cloned()) else {
        bail!("both contracts must carry a version (package lord:plugin@X.Y.Z)");
    };
    let same_line = was.major == is.major && (was.major > 0 || was.minor == is.minor);
    if !same_line {
        // A new line may break; the previous one is then kept linked (see
        // the compatibility promise) and checked against its own fixtures.
        return Ok(());
    }
    if is < was {
        bail!("the contract's version went back from {was} to {is}");
    }
    let broken = breaks(&old, &new);
    if !broken.is_empty() {
        let mut message = format!(
            "wit/lord-plugin.wit ({is}) breaks the released contract {was}; within a line \
             the contract may only grow (new interfaces, new functions in imported ones):\n"
        );
        for b in &broken {
            let _ = writeln!(message, "  - {b}");
        }
        bail!(message);
    }
    let grew = normalised(released) != normalised(current);
    if grew && is == was {
        bail!(
            "wit/lord-plugin.wit differs from the released contract {was} but keeps its \
             version; a released contract never changes: add to it as {}.{}.{}",
            was.major,
            was.minor,
            was.patch + 1
        );
    }
    Ok(())
}

/// The text without comments and blank space, so documentation edits are
/// not changes.
fn normalised(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The newest released contract under `tests/compat/`, checked against
/// `wit/lord-plugin.wit`.
pub(crate) fn run(root: &Path) -> Result<()> {
    let compat = root.join("tests").join("compat");
    let mut released: Vec<(semver::Version, std::path::PathBuf)> = Vec::new();
    for entry in
        std::fs::read_dir(&compat).with_context(|| format!("reading {}", compat.display()))?
    {
        let dir = entry?.path();
        let wit = dir.join("lord-plugin.wit");
        let version = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| semver::Version::parse(n).ok());
        if let (Some(version), true) = (version, wit.is_file()) {
            released.push((version, wit));
        }
    }
    released.sort();
    let current_path = root.join("wit").join("lord-plugin.wit");
    let current = std::fs::read_to_string(&current_path)?;
    let Some((version, path)) = released.last() else {
        bail!("no released contract under {}", compat.display());
    };
    check(&std::fs::read_to_string(path)?, &current)?;
    println!("contract: wit/lord-plugin.wit keeps every promise of the released {version}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released() -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::read_to_string(root.join("tests/compat/0.2.0/lord-plugin.wit"))
            .expect("the released 0.2.0 contract")
    }

    fn bumped(text: &str) -> String {
        text.replacen(
            "package lord:plugin@0.2.0;",
            "package lord:plugin@0.2.1;",
            1,
        )
    }

    #[test]
    fn the_same_contract_and_a_documentation_edit_pass() {
        let text = released();
        check(&text, &text).expect("unchanged");
        let documented = text.replacen("interface log {", "// More words.\ninterface log {", 1);
        check(&text, &documented).expect("comments are not changes");
    }

    #[test]
    fn a_new_function_in_an_imported_interface_passes_with_a_new_version() {
        let text = released();
        let grown = text.replacen("interface log {", "interface log {\n    flush: func();", 1);
        let refused = check(&text, &grown).expect_err("same version");
        assert!(
            refused.to_string().contains("add to it as 0.2.1"),
            "{refused}"
        );
        check(&text, &bumped(&grown)).expect("additive under 0.2.1");
        let new_interface = format!(
            "{}\ninterface clock {{\n    now: func() -> u64;\n}}\n",
            bumped(&text)
        );
        check(&text, &new_interface).expect("a new interface");
    }

    #[test]
    fn a_breaking_edit_is_caught_and_named() {
        let text = released();
        // A record field renamed: every plugin reading it would break.
        let renamed = bumped(&text).replacen("at-ms: s64,", "at: s64,", 1);
        assert!(renamed != bumped(&text), "the edit must apply");
        let refused = check(&text, &renamed).expect_err("breaking").to_string();
        assert!(refused.contains("type `types.event` changed"), "{refused}");
        // A function removed from an imported interface.
        let removed = bumped(&text).replacen("    delete: func(", "    gone: func(", 1);
        let refused = check(&text, &removed).expect_err("breaking").to_string();
        assert!(
            refused.contains("function `data.delete` was removed"),
            "{refused}"
        );
    }

    #[test]
    fn an_exported_interface_may_not_grow() {
        let text = released();
        let grown = bumped(&text).replacen(
            "interface guest {",
            "interface guest {\n    on-idle: func();",
            1,
        );
        let refused = check(&text, &grown).expect_err("breaking").to_string();
        assert!(
            refused.contains("`guest.on-idle` was added to an interface plugins export"),
            "{refused}"
        );
    }
}
