//! The other side of a git transfer: URLs (their transports, and hosts
//! read as git and curl read them, against the `net` grants), `file://`
//! URLs and local paths (where git's `enter_repo` would find a repository
//! to inspect, and why a push to one is refused), the remotes a
//! repository's configuration names, and the addresses a URL's host name
//! may lead git to (`pin_args`). `super::prepare` and `repo.rs` ask
//! these.

use std::path::Path;

use super::Where;

/// Why a push to a local repository is refused.
pub(in super::super) fn pushing_locally(target: &str) -> String {
    format!(
        "git push to the local repository `{target}` (git runs its receiving half there without \
         lord's settings, and so that repository's hooks, which a plugin can write; push over \
         https with a `net` grant)"
    )
}

/// Where git would find a repository named by `arg` as the other side of
/// a transfer (a path or a `file://` URL): each candidate that exists.
pub(super) fn local_repository(arg: &str, where_: &Where<'_>) -> Vec<std::path::PathBuf> {
    let path = match url_scheme(arg).as_deref() {
        Some("file") => match file_url_path(arg) {
            Some(path) => path,
            None => return Vec::new(),
        },
        Some(_) => return Vec::new(),
        None => arg.to_owned(),
    };
    match where_.folders.place(&path, Some(where_.cwd_guest)) {
        Ok(placed) => repository_candidates(&placed.host),
        // Outside the folders: `path_like` has refused it already.
        Err(_) => Vec::new(),
    }
}

/// The path a `file://` URL names, percent-decoded as git decodes it
/// (`file:///project/tg%74` is `/project/tgt`); `None` for one naming
/// another host or no path.
fn file_url_path(arg: &str) -> Option<String> {
    let url = url::Url::parse(arg).ok()?;
    let path = url.to_file_path().ok()?;
    path.to_str().map(str::to_owned)
}

/// The places git looks for a repository named `path` (`enter_repo`:
/// `PATH/.git`, `PATH`, `PATH.git/.git`, `PATH.git`) that exist and could
/// be one: a file (git reads it as a `gitdir:` pointer) or a folder
/// holding `HEAD`.
pub(in super::super) fn repository_candidates(path: &Path) -> Vec<std::path::PathBuf> {
    let mut dotted = path.as_os_str().to_owned();
    dotted.push(".git");
    let dotted = std::path::PathBuf::from(dotted);
    [
        path.join(".git"),
        path.to_path_buf(),
        dotted.join(".git"),
        dotted,
    ]
    .into_iter()
    .filter(|candidate| candidate.is_file() || candidate.join("HEAD").exists())
    .collect()
}

/// `ext` for `ext::sh -c ...`: git's remote-helper syntax.
pub(super) fn helper_transport(arg: &str) -> Option<&str> {
    let (scheme, _) = arg.split_once("::")?;
    let valid = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

pub(super) fn url_scheme(arg: &str) -> Option<String> {
    let (scheme, _) = arg.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// `host:path` or `user@host:path`, git's short form for ssh.
pub(super) fn scp_like(arg: &str) -> bool {
    match arg.split_once(':') {
        Some((host, _)) => !host.is_empty() && !host.contains('/'),
        None => false,
    }
}

pub(super) fn url(arg: &str, scheme: &str, where_: &Where<'_>) -> Result<String, String> {
    let parsed = url::Url::parse(arg)
        .map_err(|e| format!("the git URL `{}` ({e})", without_credentials(arg)))?;
    match scheme {
        "http" | "https" | "git" => {
            let host = parsed.host_str().unwrap_or("");
            plain_authority(arg, host)?;
            let port = parsed.port_or_known_default().unwrap_or(9418);
            if !crate::capability::authority_allowed(where_.net, host, port) {
                return Err(format!("net({host}:{port}) for git"));
            }
            // Looked up once every URL is checked (`pin_args`), and curl
            // handed the addresses kept. git's own protocol looks a name up
            // and connects by itself, with nothing like curl's list to hold
            // it to the addresses checked here: a name's owner could answer
            // this machine the second time. So there only an address will
            // do.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if bare.parse::<std::net::IpAddr>().is_err() {
                if scheme == "git" {
                    return Err(format!(
                        "the git URL `{}` (git's own protocol looks the host name up itself, so \
                         lord cannot hold it to the addresses the grant reaches; use https, or \
                         the host's address)",
                        without_credentials(arg)
                    ));
                }
                where_
                    .names
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Name {
                        host: bare.to_owned(),
                        port,
                    });
            }
            Ok(arg.to_owned())
        }
        "file" => {
            let path = file_url_path(arg).ok_or_else(|| {
                format!("the git URL `{arg}` (a `file://` URL names no local path)")
            })?;
            let placed = where_
                .folders
                .place(&path, None)
                .map_err(|e| format!("git's argument {e}"))?;
            // Written back encoded: git decodes it, as it decoded the
            // plugin's, so it opens the path checked here.
            url::Url::from_file_path(&placed.host)
                .map(String::from)
                .map_err(|()| format!("the git URL `{arg}` (its path is not absolute)"))
        }
        other => Err(format!(
            "the git URL `{}` (the `{other}` transport is not one lord lets git use: only \
             file, git, http and https; ssh runs another program)",
            without_credentials(arg)
        )),
    }
}

/// An http(s) URL's host name, to look up and hand curl the addresses of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in super::super) struct Name {
    pub(in super::super) host: String,
    pub(in super::super) port: u16,
}

/// Looks a host name up: its addresses.
pub(in super::super) type Resolve<'a> =
    &'a (dyn Fn(&str, u16) -> std::io::Result<Vec<std::net::IpAddr>> + Sync);

/// The most distinct names one git run may reach: each is looked up
/// before it starts.
const MAX_NAMES: usize = 16;

/// Looks up every name the checked URLs reach, once each, and keeps the
/// addresses the grants reach (see `remote::pin`): the
/// `-c http.curloptResolve=HOST:PORT:ADDRESSES` arguments that hand curl
/// exactly those, so git looks no name up itself. A name that resolves to
/// nothing its grant reaches, or not at all, refuses the run.
pub(in super::super) async fn pin_args(where_: &Where<'_>) -> Result<Vec<String>, String> {
    let mut names = std::mem::take(&mut *where_.names.lock().unwrap_or_else(|p| p.into_inner()));
    names.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
    names.dedup();
    if names.len() > MAX_NAMES {
        return Err(format!(
            "a git run reaching {} host names, over the {MAX_NAMES} lord looks up for one run",
            names.len()
        ));
    }
    let mut args = Vec::new();
    for name in names {
        let found = match where_.resolve {
            Some(resolve) => resolve(&name.host, name.port),
            None => tokio::net::lookup_host((name.host.as_str(), name.port))
                .await
                .map(|found| found.map(|a| a.ip()).collect()),
        };
        let pin = pin(&name.host, name.port, found, where_.net)?;
        args.push("-c".to_owned());
        args.push(format!("http.curloptResolve={pin}"));
    }
    Ok(args)
}

/// The addresses git may connect to for the URL host name `bare`, as an
/// entry of curl's resolve list (`HOST:PORT:ADDR[,ADDR]`), from what
/// looking it up `found`: only the addresses its grant reaches are kept,
/// since a name's owner may answer this machine's address or a cloud's
/// metadata service (`NetTarget::allows`). A name that cannot be looked up
/// is refused: git would look it up again, and could get another answer.
pub(super) fn pin(
    bare: &str,
    port: u16,
    found: std::io::Result<Vec<std::net::IpAddr>>,
    net: &[lord_manifest::NetTarget],
) -> Result<String, String> {
    let found =
        found.map_err(|e| format!("the git host `{bare}`, which could not be looked up ({e})"))?;
    let names = [bare];
    let mut kept: Vec<std::net::IpAddr> = Vec::new();
    for ip in found.iter().map(|ip| ip.to_canonical()) {
        if !kept.contains(&ip) && net.iter().any(|t| t.allows(ip, port, &names)) {
            kept.push(ip);
        }
    }
    if kept.is_empty() {
        let answered: Vec<String> = found.iter().map(ToString::to_string).collect();
        return Err(format!(
            "the git host `{bare}`, whose addresses ({}) its grant does not reach: a name's \
             grant reaches neither this machine nor its link-local neighbours",
            if answered.is_empty() {
                "none".to_owned()
            } else {
                answered.join(", ")
            }
        ));
    }
    let addresses: Vec<String> = kept
        .iter()
        .map(|ip| match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        })
        .collect();
    Ok(format!("{bare}:{port}:{}", addresses.join(",")))
}

/// `arg` as an error may show it: the credentials of a URL's user part (a
/// token in `https://x-access-token:TOKEN@host/`) replaced, since a
/// refusal reaches the plugin, the terminal and the audit log.
fn without_credentials(arg: &str) -> String {
    let Some(at) = arg.find("://") else {
        return arg.to_owned();
    };
    // Up to the query, past any `/`: a URL read two ways may hide its
    // user part behind one, and an error shows too little rather than a
    // token.
    let start = at + 3;
    let end = arg[start..]
        .find(['?', '#'])
        .map_or(arg.len(), |i| start + i);
    match arg[start..end].rfind('@') {
        Some(i) => format!("{}***@{}", &arg[..start], &arg[start + i + 1..]),
        None => arg.to_owned(),
    }
}

/// Refuses a URL whose host lord and git could read differently: the
/// check reads it as a web browser does (`\` is `/`, tabs and newlines
/// are dropped, the last `@` ends the credentials, `%41` is `A`), while
/// curl and git read `https://granted\@elsewhere/` as a visit to
/// `elsewhere`. So the URL must be printable ASCII without `\`, hold at
/// most one `@` before its path, and name as its host exactly the one
/// `parsed_host` says.
fn plain_authority(arg: &str, parsed_host: &str) -> Result<(), String> {
    let unclear = |why: &str| {
        Err(format!(
            "the git URL `{}` ({why}: lord and git could read its host differently)",
            without_credentials(arg).escape_debug()
        ))
    };
    if arg.contains('\\') || !arg.chars().all(|c| c.is_ascii_graphic()) {
        return unclear("it holds `\\`, a space or a character outside printable ASCII");
    }
    let after_scheme = arg.split_once("://").map_or(arg, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((credentials, host_port)) => (Some(credentials), host_port),
        None => (None, authority),
    };
    if credentials.is_some_and(|c| c.contains('@')) {
        return unclear("it holds more than one `@` before its path");
    }
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.ends_with('.') {
        return unclear("its host ends with a dot");
    }
    if host.eq_ignore_ascii_case(parsed_host) {
        Ok(())
    } else {
        unclear("its host is written in an unusual form")
    }
}

/// Checks a URL or path the repository's configuration holds for a remote.
/// Returns, for a local one, the host paths git could read it as: a
/// relative path against each of `bases` (the working folder, and the top
/// of the work tree, where git has moved by the time it connects).
pub(in super::super) fn configured_remote(
    value: &str,
    bases: &[&Path],
    where_: &Where<'_>,
) -> Result<Vec<std::path::PathBuf>, String> {
    if let Some(scheme) = helper_transport(value) {
        return Err(format!(
            "a remote URL `{scheme}::...` in the repository's configuration"
        ));
    }
    let local: Vec<std::path::PathBuf> = match url_scheme(value).as_deref() {
        Some("file") => vec![
            file_url_path(value)
                .ok_or_else(|| format!("the remote `{value}` (a `file://` URL of another host)"))?
                .into(),
        ],
        Some(scheme) => return url(value, scheme, where_).map(|_| Vec::new()),
        None if value.starts_with('/') => vec![value.into()],
        None if scp_like(value) => {
            return Err(format!("the remote `{value}` (ssh runs another program)"));
        }
        None => bases.iter().map(|base| base.join(value)).collect(),
    };
    // git follows a link before it applies the `..` after it; the check
    // below tidies `..` away first, so `link/../x` would be judged as `x`.
    if local.iter().any(|path| {
        path.components()
            .any(|c| c == std::path::Component::ParentDir)
    }) {
        return Err(format!(
            "the remote `{value}` (a local path holding `..`, which git reads after following \
             links; give the path without `..`)"
        ));
    }
    match local
        .iter()
        .find(|path| !where_.folders.contains_host(path))
    {
        Some(_) => Err(format!("the remote `{value}` outside the plugin's folders")),
        None => Ok(local),
    }
}
