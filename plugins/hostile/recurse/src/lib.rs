//! Hostile fixture: unbounded recursion. The host's wasm stack limit must
//! trap it before it can touch the host's own stack.

use lord_pdk::{Command, Plugin};

struct Recurse;

/// Keeps its state in wasm locals (not in the shadow stack in linear memory),
/// so each level costs a real wasm frame and the engine's stack limit is what
/// stops it.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    // An exit the optimiser cannot prove unreachable, and no input reaches.
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    descend(depth + 1).wrapping_mul(3).wrapping_add(depth)
}

impl Plugin for Recurse {
    fn run_command(_command: Command) -> Result<String, String> {
        Ok(descend(0).to_string())
    }
}

lord_pdk::export_plugin!(Recurse);
