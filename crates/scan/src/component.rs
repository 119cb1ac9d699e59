//! What a component's bytes say about it, read with `wasmparser` and
//! without running or compiling anything: its own imports and exports
//! (those of the component itself, not of the core modules inside it),
//! every core memory it defines with its limits, and every data segment
//! with where it lies in the file.

use std::ops::Range;

use wasmparser::{Parser, Payload};

/// The parts of a component a scan judges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Anatomy {
    /// Import names as written (`wasi:io/poll@0.2.6`).
    pub(crate) imports: Vec<String>,
    pub(crate) exports: Vec<String>,
    pub(crate) memories: Vec<Memory>,
    /// Data segments: their bytes' range in the component file.
    pub(crate) data: Vec<Range<usize>>,
}

/// One core memory a module of the component defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memory {
    pub(crate) initial_bytes: u64,
    pub(crate) maximum_bytes: Option<u64>,
    /// Where its section lies in the file.
    pub(crate) offset: usize,
}

/// Reads `bytes` as a component; an error says why it is not one.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "wasmparser's payloads are many and non-exhaustive; only these sections matter"
)]
pub(crate) fn read(bytes: &[u8]) -> Result<Anatomy, String> {
    let mut anatomy = Anatomy::default();
    // Nesting depth: 1 is the component itself; its modules and nested
    // components are deeper, and only their memories and data count.
    let mut depth = 0usize;
    let mut is_component = false;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("it is not a valid WebAssembly binary: {e}"))?;
        match payload {
            Payload::Version { encoding, .. } => {
                depth += 1;
                if depth == 1 {
                    is_component = encoding == wasmparser::Encoding::Component;
                }
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| format!("an import is unreadable: {e}"))?;
                    anatomy.imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| format!("an export is unreadable: {e}"))?;
                    anatomy.exports.push(export.name.name.to_owned());
                }
            }
            Payload::MemorySection(reader) => {
                let offset = reader.range().start;
                for memory in reader {
                    let memory = memory.map_err(|e| format!("a memory is unreadable: {e}"))?;
                    let page = u64::from(memory.page_size());
                    anatomy.memories.push(Memory {
                        initial_bytes: memory.initial.saturating_mul(page),
                        maximum_bytes: memory.maximum.map(|m| m.saturating_mul(page)),
                        offset,
                    });
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(|e| format!("a data segment is unreadable: {e}"))?;
                    // The segment's bytes are its range's tail.
                    let end = data.range.end;
                    anatomy.data.push(end - data.data.len()..end);
                }
            }
            _ => {}
        }
    }
    if !is_component {
        return Err(
            "it is a core WebAssembly module, not a component; build it for \
                    wasm32-wasip2 (or with `wasm-tools component new`)"
                .to_owned(),
        );
    }
    Ok(anatomy)
}
