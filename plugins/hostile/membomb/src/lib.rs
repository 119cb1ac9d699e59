//! Hostile fixture: allocates and touches memory without end. The host must
//! refuse growth past the memory limit and report it by name.

use lord_pdk::{Command, Plugin};

struct MemBomb;

impl Plugin for MemBomb {
    fn run_command(_command: Command) -> Result<String, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![0xA5; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

lord_pdk::export_plugin!(MemBomb);
