//! The collector against the system's own accounts: `/proc`, `free`,
//! `df` and `ps`, read around the same sample. Each comparison states its
//! tolerance and why it needs one (the machine keeps running between two
//! reads; counters only grow).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lord_monitor::{Collector, Options, Snapshot};

fn collector(command_lines: bool) -> Collector {
    Collector::new(Options {
        command_lines,
        ..Options::default()
    })
    .expect("collector")
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().expect(program);
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `/proc/meminfo`'s field in bytes.
fn meminfo(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .expect(field)
}

#[test]
fn memory_agrees_with_proc_meminfo_and_free() {
    let snapshot = collector(false).sample().expect("sample");
    let m = snapshot.memory;
    // Sizes do not move: exact.
    assert_eq!(m.total, meminfo("MemTotal"));
    assert_eq!(m.swap_total, meminfo("SwapTotal"));
    // `free -b`'s "Mem:" row: total used free shared buff/cache available.
    let free = run("free", &["-b"]);
    let row: Vec<u64> = free
        .lines()
        .find_map(|l| l.strip_prefix("Mem:"))
        .expect("Mem row")
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(m.total, row[0]);
    // What is in use moves between the two reads: within 2 % of memory or
    // 64 MiB, whichever is more.
    let tolerance = (m.total / 50).max(64 << 20);
    assert!(
        m.available.abs_diff(row[5]) <= tolerance,
        "{m:?} vs {row:?}"
    );
    assert!(m.free.abs_diff(row[2]) <= tolerance, "{m:?} vs {row:?}");
    assert_eq!(m.used, m.total - m.available);
}

/// Busy and total jiffies over all cores, from `/proc/stat`'s `cpu` line.
fn cpu_jiffies() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").expect("stat");
    let fields: Vec<u64> = text
        .lines()
        .next()
        .expect("cpu line")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is in user).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields[3] + fields[4];
    (total - idle, total)
}

#[test]
fn cpu_agrees_with_proc_stat_over_the_same_window() {
    let mut collector = collector(false);
    let first = collector.sample().expect("sample");
    let cores = std::fs::read_to_string("/proc/stat")
        .expect("stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(first.cpu.cores.len(), cores);
    // Keep one core busy so the figure is not only idle noise.
    let spin = std::thread::spawn(|| {
        let end = std::time::Instant::now() + Duration::from_millis(1100);
        let mut x = 0u64;
        while std::time::Instant::now() < end {
            x = x.wrapping_add(1);
        }
        x
    });
    let (busy0, total0) = cpu_jiffies();
    std::thread::sleep(Duration::from_secs(1));
    let second = collector.sample().expect("sample");
    let (busy1, total1) = cpu_jiffies();
    spin.join().expect("spin");
    let expected = (busy1 - busy0) as f32 / (total1 - total0).max(1) as f32 * 100.0;
    // Jiffies tick at 100 Hz and the two windows are a few milliseconds
    // apart: within 15 points.
    assert!(
        (second.cpu.percent - expected).abs() <= 15.0,
        "collector {} % vs /proc/stat {expected} %",
        second.cpu.percent
    );
    assert!((0.0..=100.0).contains(&second.cpu.percent));
    assert!(
        second
            .cpu
            .cores
            .iter()
            .all(|c| (0.0..=100.0).contains(&c.percent))
    );
    assert!(second.window_ms >= 900, "{}", second.window_ms);
}

/// A child with three extra threads and a known command line; a line on
/// its stdin makes it touch 8 MiB more and say `allocated`.
fn threaded_child() -> Child {
    Command::new("python3")
        .args([
            "-c",
            "import threading,time\n\
             [threading.Thread(target=time.sleep,args=(60,),daemon=True).start() for _ in range(3)]\n\
             print('ready',flush=True)\nimport sys\nsys.stdin.readline()\n\
             x=bytearray(8<<20)\nprint('allocated',flush=True)\ntime.sleep(60)",
            "lord-monitor-test",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3")
}

/// Waits for the child's next line, which must be `word`.
fn wait_for(child: &mut Child, word: &str) {
    use std::io::BufRead as _;
    let stdout = child.stdout.as_mut().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect(word);
    assert_eq!(line.trim(), word);
}

fn wait_ready(child: &mut Child) {
    wait_for(child, "ready");
}

#[test]
fn a_process_agrees_with_ps_and_its_command_line_is_only_read_when_asked() {
    let mut child = threaded_child();
    wait_ready(&mut child);
    let pid = child.id();
    let with = collector(true).sample().expect("sample");
    let without = collector(false).sample().expect("sample");
    let ps = run("ps", &["-o", "rss=,nlwp=,ppid=", "-p", &pid.to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    let ps: Vec<u64> = ps
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let p = with
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .expect("child listed");
    assert_eq!(u64::from(p.threads), ps[1], "{p:?}");
    assert_eq!(p.threads, 4);
    assert_eq!(p.parent.map(u64::from), Some(ps[2]));
    // The resident size moves a little as the interpreter settles: within
    // 10 % or 1 MiB.
    let rss = ps[0] * 1024;
    assert!(
        p.memory.abs_diff(rss) <= (rss / 10).max(1 << 20),
        "{} vs ps {rss}",
        p.memory
    );
    let command = p.command.as_ref().expect("command line asked for");
    assert_eq!(
        command.last().map(String::as_str),
        Some("lord-monitor-test")
    );
    let q = without
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .expect("child listed");
    assert_eq!(q.command, None);
    let json = serde_json::to_string(&without).expect("json");
    assert!(!json.contains("lord-monitor-test"), "a command line leaked");
    // Threads are counted in their process, never listed as processes.
    assert_eq!(
        with.processes
            .iter()
            .filter(|p| p.parent == Some(pid))
            .count(),
        0
    );
}

#[test]
fn the_root_file_system_agrees_with_df() {
    let snapshot = collector(false).sample().expect("sample");
    let root = snapshot
        .filesystems
        .iter()
        .find(|f| f.mount == "/")
        .expect("/ is mounted");
    let df = run("df", &["-B1", "--output=size,avail", "/"]);
    let row: Vec<u64> = df
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(root.total, row[0]);
    // Other writers on a shared disk: within 1 % of its size.
    assert!(
        root.available.abs_diff(row[1]) <= row[0] / 100,
        "{root:?} vs {row:?}"
    );
}

fn lo_bytes() -> u64 {
    std::fs::read_to_string("/sys/class/net/lo/statistics/rx_bytes")
        .expect("lo")
        .trim()
        .parse()
        .expect("number")
}

#[test]
fn loopback_counters_lie_between_two_reads_of_sys() {
    let mut collector = collector(false);
    let before = lo_bytes();
    let snapshot: Snapshot = collector.sample().expect("sample");
    let after = lo_bytes();
    let lo = snapshot
        .networks
        .iter()
        .find(|i| i.name == "lo")
        .expect("lo listed");
    // Counters only grow, so the sample's lies between the two reads.
    assert!(
        (before..=after).contains(&lo.received),
        "{before} <= {} <= {after}",
        lo.received
    );
}

/// A cgroup of the test's own, in whichever hierarchy holds memory, with
/// a child moved into it. Making one needs root; where the test cannot,
/// it says so and checks nothing (the cgroup parsing is covered against
/// files in `cgroup.rs`).
#[test]
fn a_cgroup_holding_a_process_is_listed_as_a_container() {
    let roots = lord_monitor::CgroupRoots::discover();
    let name = format!("lord-monitor-test-{}", std::process::id());
    let (dir, path) = if let Some(unified) = roots.unified.as_ref().filter(|u| {
        u.join("cgroup.subtree_control").exists()
            && std::fs::read_to_string(u.join("cgroup.subtree_control"))
                .is_ok_and(|c| c.contains("memory"))
    }) {
        (unified.join(&name), format!("/{name}"))
    } else if let Some(memory) = roots.memory.as_ref() {
        (memory.join(&name), format!("/{name}"))
    } else {
        eprintln!("no cgroup hierarchy with a memory controller: nothing to check");
        return;
    };
    if let Err(e) = std::fs::create_dir(&dir) {
        eprintln!("cannot make a cgroup here ({e}); run as root to check containers");
        return;
    }
    // v1 leaves pages charged where they were allocated unless told to
    // move them with the process (v2 has no such file and needs nothing).
    let _ = std::fs::write(dir.join("memory.move_charge_at_immigrate"), "3");
    let mut child = threaded_child();
    wait_ready(&mut child);
    let moved = std::fs::write(dir.join("cgroup.procs"), child.id().to_string());
    // Memory it touches from now on is charged to the new group.
    if moved.is_ok() {
        use std::io::Write as _;
        let stdin = child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("stdin");
        stdin.flush().expect("stdin");
        wait_for(&mut child, "allocated");
    }
    let snapshot = moved
        .as_ref()
        .ok()
        .map(|()| collector(false).sample().expect("sample"));
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(100));
    let _ = std::fs::remove_dir(&dir);
    moved.expect("moving the child into the cgroup");
    let snapshot = snapshot.expect("sample");
    let container = snapshot
        .containers
        .iter()
        .find(|c| c.cgroup == path)
        .unwrap_or_else(|| panic!("{path} not among {:#?}", snapshot.containers));
    assert_eq!(container.processes, 1);
    assert!(
        container.memory.is_some_and(|m| m >= 8 << 20),
        "{container:?}"
    );
}
