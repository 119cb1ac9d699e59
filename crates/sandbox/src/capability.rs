//! Grants become a WASI context: exactly the files, variables, sockets and
//! terminal a plugin was granted, and nothing inherited from the host.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use lord_manifest::{NetHost, NetTarget};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::output::{OutputBudget, Stream};

/// Accesses the host refused, shared by every host-side path of a store.
/// Whether the current call has a refusal is one atomic load, so a call
/// that was refused nothing (nearly all) takes no lock to find out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Denials {
    log: Arc<Mutex<DenialLog>>,
    pending: Arc<AtomicBool>,
}

impl Denials {
    pub(crate) fn push(&self, access: String, needs: Option<String>) {
        self.lock().push(access, needs);
        self.pending.store(true, Ordering::Release);
    }

    /// The current call's first refusal, left in place.
    pub(crate) fn peek(&self) -> Option<String> {
        if !self.pending.load(Ordering::Acquire) {
            return None;
        }
        self.lock().peek()
    }

    /// The current call's first refusal; the next call starts clean.
    pub(crate) fn take(&self) -> Option<String> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.lock().take()
    }

    /// Every distinct refusal so far.
    pub(crate) fn seen(&self) -> Vec<Denial> {
        self.lock().seen()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DenialLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One access the host refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// What was refused, in words (`the shared key `counter``).
    pub access: String,
    /// The permission that would have allowed it, in manifest syntax
    /// (`state-shared(counter)`), when one could.
    pub needs: Option<String>,
}

/// The refusals of one instance: the first of the current call (what its
/// error reports) and every distinct one so far (what `lord pdk record`
/// learns from). Distinct refusals are capped, so a guest looping over
/// refused keys cannot grow host memory without bound.
#[derive(Debug, Default)]
struct DenialLog {
    pending: Option<String>,
    seen: Vec<Denial>,
}

impl DenialLog {
    const KEPT: usize = 256;

    fn push(&mut self, access: String, needs: Option<String>) {
        if self.seen.len() < Self::KEPT && !self.seen.iter().any(|d| d.access == access) {
            self.seen.push(Denial {
                access: access.clone(),
                needs,
            });
        }
        if self.pending.is_none() {
            self.pending = Some(access);
        }
    }

    /// The current call's first refusal, left in place.
    fn peek(&self) -> Option<String> {
        self.pending.clone()
    }

    /// The current call's first refusal; the next call starts clean.
    fn take(&mut self) -> Option<String> {
        self.pending.take()
    }

    fn seen(&self) -> Vec<Denial> {
        self.seen.clone()
    }
}

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    /// Where the guest sees it, e.g. `/project`.
    pub guest: String,
    pub writable: bool,
    /// `host` is the folder with every link resolved when it was granted
    /// (a sub-folder of a grant's root, checked then to lie inside it).
    /// Grants outlive an instance, and a plugin able to write the root can
    /// put a link where the folder was; so each instance opens it with no
    /// link followed anywhere on its path (`openat2` with
    /// `RESOLVE_NO_SYMLINKS`, one atomic resolution), and hands WASI the
    /// folder it opened. A root itself may be a link (a project kept on
    /// another disk), and is opened as given.
    pub resolved: bool,
}

/// What one instance's WASI context may touch. Built by the host from the
/// manifest's requests intersected with what the user or a policy granted.
/// Plain data: the live services behind the `lord:plugin` interfaces come
/// separately, as [`Links`](crate::Links).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub preopens: Vec<Preopen>,
    /// Environment variables, with the values the host chose to pass.
    pub env: Vec<(String, String)>,
    pub net: Vec<NetTarget>,
    /// Whether the plugin may read the user's terminal.
    pub tty: bool,
    /// The guest's working directory (one of the preopens), if any.
    pub cwd: Option<String>,
    /// The programs `lord:plugin/exec` may run, each resolved to one file.
    pub programs: Vec<crate::Program>,
    /// What `lord:plugin/metrics` may read.
    pub metrics: crate::MetricsAccess,
    /// The AI profiles `lord:plugin/ai` may ask, by name (`local` for
    /// `ai(local)`).
    pub ai: Vec<String>,
    /// The database profiles `lord:plugin/sql` may reach, by name
    /// (`analytics` for `db(analytics)`).
    pub db: Vec<String>,
}

pub(crate) fn build_wasi(
    grants: &Grants,
    budget: &OutputBudget,
    denials: &Denials,
) -> Result<WasiCtx, String> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(budget.pipe(Stream::Stdout))
        .stderr(budget.pipe(Stream::Stderr));
    if grants.tty {
        builder.inherit_stdin();
    }
    for (name, value) in &grants.env {
        builder.env(name, value);
    }
    for preopen in &grants.preopens {
        let perms = if preopen.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        // A resolved folder is opened here, following no link, and WASI
        // opens that very folder again through its descriptor: nothing
        // swapped on the path meanwhile can change what it gets.
        let pinned = pin_resolved(preopen)?;
        let host = match &pinned {
            Pinned::Descriptor(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            Pinned::Checked | Pinned::AsGiven => preopen.host.clone(),
        };
        builder
            .preopened_dir(&host, &preopen.guest, perms)
            .map_err(|e| {
                format!(
                    "the granted directory `{}` could not be opened: {e}",
                    preopen.host.display()
                )
            })?;
        if matches!(pinned, Pinned::Checked) {
            still_itself(preopen)?;
        }
    }
    if let Some(cwd) = &grants.cwd {
        builder.initial_cwd(cwd);
    }
    configure_network(&mut builder, &grants.net, denials.clone());
    Ok(builder.build())
}

/// How a preopen's folder is reached.
enum Pinned {
    /// A root, opened as given.
    AsGiven,
    /// A resolved folder, opened following no link: WASI opens it again
    /// through this descriptor.
    Descriptor(std::os::fd::OwnedFd),
    /// A resolved folder where `openat2` or `/proc` is missing (an old
    /// kernel, a filter that refuses the call): checked to resolve to
    /// itself before and after WASI opens it, which a swap back and forth
    /// in between could still slip past.
    Checked,
}

/// Opens a resolved preopen's folder following no link on its path (see
/// [`Preopen::resolved`]), or says why it may not be opened.
fn pin_resolved(preopen: &Preopen) -> Result<Pinned, String> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    if !preopen.resolved {
        return Ok(Pinned::AsGiven);
    }
    let opened = rustix::fs::openat2(
        rustix::fs::CWD,
        &preopen.host,
        // As wasmtime opens a preopen: a path descriptor, needing no
        // read permission of its own.
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    );
    match opened {
        Ok(fd) if std::path::Path::new("/proc/self/fd").is_dir() => Ok(Pinned::Descriptor(fd)),
        Ok(_) => still_itself(preopen).map(|()| Pinned::Checked),
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
            still_itself(preopen).map(|()| Pinned::Checked)
        }
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            // Say where the link leads, as the check would.
            still_itself(preopen).and(Err(format!(
                "the granted folder `{}` ({}) is reached through a link now: one took the place \
                 of a folder on its path after it was granted, and lord does not follow it",
                preopen.guest,
                preopen.host.display()
            )))
        }
        Err(e) => Err(format!(
            "the granted folder `{}` ({}) could not be opened: {e}",
            preopen.guest,
            preopen.host.display()
        )),
    }
}

/// Refuses a resolved grant whose path no longer resolves to itself: a
/// folder on it, or the folder itself, was replaced by a link since the
/// grant was made (see [`Preopen::resolved`]).
fn still_itself(preopen: &Preopen) -> Result<(), String> {
    if !preopen.resolved {
        return Ok(());
    }
    match preopen.host.canonicalize() {
        Ok(now) if now == preopen.host => Ok(()),
        Ok(now) => Err(format!(
            "the granted folder `{}` ({}) now leads to `{}`: a link took its place after it \
             was granted, and lord does not follow it",
            preopen.guest,
            preopen.host.display(),
            now.display()
        )),
        Err(e) => Err(format!(
            "the granted folder `{}` ({}) could not be found: {e}",
            preopen.guest,
            preopen.host.display()
        )),
    }
}

/// Sockets stay off unless a `net` grant exists; then every address the guest
/// binds, connects or sends to is checked against the grants, and a refusal is
/// recorded so the host can name it.
fn configure_network(builder: &mut WasiCtxBuilder, net: &[NetTarget], denials: Denials) {
    let enabled = !net.is_empty();
    builder
        .allow_tcp(enabled)
        .allow_udp(enabled)
        // Lookups are answered by the host resolver; the address check below
        // still decides what may be reached, so resolving grants nothing.
        .allow_ip_name_lookup(enabled);
    let resolved = Arc::new(resolve_names(net));
    let net: Arc<[NetTarget]> = net.into();
    builder.socket_addr_check(move |addr: SocketAddr, usage: SocketAddrUse| {
        let allowed = match usage {
            // Binding (explicitly, or implicitly before a connect) reaches
            // nothing by itself; a plugin with any net grant may bind.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => !net.is_empty(),
            // Serving is not part of `net(host:port)`, which grants outgoing
            // connections only.
            SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => false,
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                allowed(&net, &resolved, addr)
            }
        };
        if !allowed {
            let target = match addr.ip().to_canonical() {
                IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
                IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
            };
            // The access is named by the permission that would allow it,
            // as the refusal message has always said.
            let needs = format!("net({target})");
            denials.push(needs.clone(), Some(needs));
        }
        Box::pin(async move { allowed })
    });
}

/// Whether a connection the host makes for the plugin (a program it runs,
/// a request) to `host:port` is covered by its `net` grants. A name is
/// matched as a name (the host does not resolve it here); `localhost`
/// also matches a grant of a loopback address.
pub(crate) fn authority_allowed(net: &[NetTarget], host: &str, port: u16) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return net.iter().any(|t| t.allows(ip, port, &[]));
    }
    net.iter().any(|t| {
        name_allowed(t, host, port)
            || (host.eq_ignore_ascii_case("localhost")
                && (t.allows(IpAddr::from([127, 0, 0, 1]), port, &[])
                    || t.allows(IpAddr::from(std::net::Ipv6Addr::LOCALHOST), port, &[])))
    })
}

/// Whether `target` covers the DNS name `name` at `port`, by the name
/// alone: a grant of any host, or of that name (DNS ignores case and a
/// final dot). A grant of an address never covers a name, since which
/// addresses the name has is not looked up here. `NetTarget::allows`
/// takes an address, and passing it a made-up one would let a grant of
/// that address (`net(0.0.0.0)`) cover every name.
fn name_allowed(target: &NetTarget, name: &str, port: u16) -> bool {
    let port_ok = target.port.is_none_or(|granted| granted == port);
    let name = name.strip_suffix('.').unwrap_or(name);
    let host_ok = match &target.host {
        NetHost::Any => true,
        NetHost::Name(granted) => granted.eq_ignore_ascii_case(name),
        NetHost::Ipv4(_) | NetHost::Ipv6(_) => false,
    };
    port_ok && host_ok
}

fn allowed(net: &[NetTarget], resolved: &[(IpAddr, String)], addr: SocketAddr) -> bool {
    let ip = addr.ip().to_canonical();
    let names: Vec<&str> = resolved
        .iter()
        .filter(|(resolved_ip, _)| *resolved_ip == ip)
        .map(|(_, name)| name.as_str())
        .collect();
    net.iter()
        .any(|target| target.allows(ip, addr.port(), &names))
}

/// Resolves the DNS names in the grants once, when the instance is made, so
/// the address check can tell which IPs belong to a granted name.
fn resolve_names(net: &[NetTarget]) -> Vec<(IpAddr, String)> {
    let mut out = Vec::new();
    for target in net {
        if let NetHost::Name(name) = &target.host
            && name != "localhost"
            && let Ok(addrs) = (name.as_str(), target.port.unwrap_or(0)).to_socket_addrs()
        {
            out.extend(addrs.map(|a| (a.ip().to_canonical(), name.clone())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn target(host: NetHost, port: Option<u16>) -> NetTarget {
        NetTarget { host, port }
    }

    /// Grants outlive an instance: a sub-folder granted as itself that a
    /// plugin later replaces with a link (to lord's secrets, say) is not
    /// opened for the next instance.
    #[test]
    fn a_granted_sub_folder_replaced_by_a_link_is_not_opened() {
        let root = tempfile::tempdir().expect("root");
        let outside = tempfile::tempdir().expect("outside");
        let sub = root.path().join("x");
        std::fs::create_dir(&sub).expect("sub-folder");
        let grants = Grants {
            preopens: vec![Preopen {
                host: sub.canonicalize().expect("real"),
                guest: "/data/x".to_owned(),
                writable: false,
                resolved: true,
            }],
            ..Grants::default()
        };
        let budget = OutputBudget::new(1024);
        let build = || build_wasi(&grants, &budget, &Denials::default()).map(drop);
        build().expect("the folder as granted");
        std::fs::remove_dir(&sub).expect("remove");
        std::os::unix::fs::symlink(outside.path(), &sub).expect("link");
        let refused = build().expect_err("a link in its place");
        assert!(refused.contains("now leads to"), "{refused}");
    }

    /// A resolved folder is opened once, following no link anywhere on its
    /// path, and WASI is handed that descriptor: a link put on the path
    /// refuses the open itself, not only a check around it.
    #[test]
    fn a_resolved_folder_is_opened_following_no_link() {
        let root = tempfile::tempdir().expect("root");
        let sub = root.path().join("a/x");
        std::fs::create_dir_all(&sub).expect("sub-folder");
        let preopen = |host: PathBuf| Preopen {
            host,
            guest: "/data/x".to_owned(),
            writable: false,
            resolved: true,
        };
        let real = preopen(sub.canonicalize().expect("real"));
        // (`Checked` where a filter refuses `openat2`.)
        assert!(matches!(
            pin_resolved(&real).expect("opens"),
            Pinned::Descriptor(_) | Pinned::Checked
        ));
        // A link on the way, even one leading to the very same folder.
        let link = root.path().join("via");
        std::os::unix::fs::symlink(root.path().join("a"), &link).expect("link");
        let through = preopen(link.join("x"));
        let Err(refused) = pin_resolved(&through) else {
            panic!("a path through a link was opened");
        };
        assert!(refused.contains("link"), "{refused}");
        // A root is opened as given, links and all.
        let root_grant = Preopen {
            resolved: false,
            ..through
        };
        assert!(matches!(pin_resolved(&root_grant), Ok(Pinned::AsGiven)));
    }

    /// A granted name whose DNS answer is this machine (rebinding, or a
    /// name its author points at 127.0.0.1) does not reach it.
    #[test]
    fn a_granted_name_resolving_to_this_machine_reaches_nothing_there() {
        let net = [target(NetHost::Name("api.example.com".to_owned()), None)];
        let resolved = [
            (IpAddr::from([127, 0, 0, 1]), "api.example.com".to_owned()),
            (
                IpAddr::from([169, 254, 169, 254]),
                "api.example.com".to_owned(),
            ),
            (
                IpAddr::from([93, 184, 216, 34]),
                "api.example.com".to_owned(),
            ),
        ];
        let at = |ip: [u8; 4], port| SocketAddr::from((ip, port));
        assert!(!allowed(&net, &resolved, at([127, 0, 0, 1], 6379)));
        assert!(!allowed(&net, &resolved, at([169, 254, 169, 254], 80)));
        assert!(allowed(&net, &resolved, at([93, 184, 216, 34], 443)));
    }

    #[test]
    fn a_grant_of_the_unspecified_address_covers_no_name() {
        for grant in [
            target(NetHost::Ipv4(Ipv4Addr::UNSPECIFIED), None),
            target(NetHost::Ipv4(Ipv4Addr::UNSPECIFIED), Some(443)),
            target(NetHost::Ipv6(Ipv6Addr::UNSPECIFIED), None),
            target(NetHost::Ipv4(Ipv4Addr::new(93, 184, 215, 14)), None),
        ] {
            let net = [grant];
            assert!(!authority_allowed(&net, "example.com", 443), "{}", net[0]);
            assert!(!authority_allowed(&net, "evil.test", 443), "{}", net[0]);
        }
        // The address itself, given as an address, is still what it grants.
        let net = [target(NetHost::Ipv4(Ipv4Addr::UNSPECIFIED), Some(443))];
        assert!(authority_allowed(&net, "0.0.0.0", 443));
    }

    #[test]
    fn a_name_is_covered_by_its_own_grant_or_any_host() {
        let net = [target(NetHost::Name("example.com".to_owned()), Some(443))];
        assert!(authority_allowed(&net, "example.com", 443));
        assert!(authority_allowed(&net, "EXAMPLE.com", 443));
        assert!(authority_allowed(&net, "example.com.", 443));
        assert!(!authority_allowed(&net, "example.com", 80));
        assert!(!authority_allowed(&net, "www.example.com", 443));
        assert!(!authority_allowed(&net, "example.com.evil.test", 443));

        let any = [target(NetHost::Any, Some(443))];
        assert!(authority_allowed(&any, "whatever.test", 443));
        assert!(!authority_allowed(&any, "whatever.test", 22));
    }

    #[test]
    fn localhost_is_covered_by_a_loopback_grant_and_addresses_by_their_own() {
        let v4 = [target(NetHost::Ipv4(Ipv4Addr::LOCALHOST), Some(8080))];
        assert!(authority_allowed(&v4, "localhost", 8080));
        assert!(authority_allowed(&v4, "127.0.0.1", 8080));
        assert!(!authority_allowed(&v4, "127.0.0.2", 8080));
        let v6 = [target(NetHost::Ipv6(Ipv6Addr::LOCALHOST), None)];
        assert!(authority_allowed(&v6, "LocalHost", 1));
        assert!(authority_allowed(&v6, "[::1]", 1));
        let name = [target(NetHost::Name("localhost".to_owned()), None)];
        assert!(authority_allowed(&name, "localhost", 1));
        assert!(authority_allowed(&name, "127.0.0.1", 1));
    }
}
