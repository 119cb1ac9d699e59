//! URLs and secrets in a component's data segments. Each match is
//! reported with its byte offset in the component; a secret is never
//! reported whole (see [`redact`]).

use std::ops::Range;

use crate::finding::{Finding, Location, Rule, Severity};

/// Words that make a random-looking string beside them a likely secret.
const SECRET_WORDS: &[&str] = &["key", "token", "secret", "password", "passwd", "bearer"];

/// Findings per rule per component, beyond which the rest are summed up
/// in one: a component full of URLs needs one line, not a thousand.
const MAX_PER_RULE: usize = 20;

/// Known shapes of credentials: a prefix and the characters and length
/// of what follows it.
struct Shape {
    name: &'static str,
    prefix: &'static [u8],
    body: fn(u8) -> bool,
    min: usize,
    max: usize,
}

fn upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn alnum_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn url_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\' | b'{' | b'}')
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "AWS access key id",
        prefix: b"AKIA",
        body: upper_digit,
        min: 16,
        max: 16,
    },
    Shape {
        name: "AWS temporary access key id",
        prefix: b"ASIA",
        body: upper_digit,
        min: 16,
        max: 16,
    },
    Shape {
        name: "GitHub token",
        prefix: b"ghp_",
        body: alnum,
        min: 36,
        max: 255,
    },
    Shape {
        name: "GitHub OAuth token",
        prefix: b"gho_",
        body: alnum,
        min: 36,
        max: 255,
    },
    Shape {
        name: "GitHub app token",
        prefix: b"ghs_",
        body: alnum,
        min: 36,
        max: 255,
    },
    Shape {
        name: "GitHub user-to-server token",
        prefix: b"ghu_",
        body: alnum,
        min: 36,
        max: 255,
    },
    Shape {
        name: "GitHub refresh token",
        prefix: b"ghr_",
        body: alnum,
        min: 36,
        max: 255,
    },
    Shape {
        name: "GitHub fine-grained token",
        prefix: b"github_pat_",
        body: alnum_underscore,
        min: 60,
        max: 255,
    },
    Shape {
        name: "Slack bot token",
        prefix: b"xoxb-",
        body: alnum_dash,
        min: 10,
        max: 255,
    },
    Shape {
        name: "Slack user token",
        prefix: b"xoxp-",
        body: alnum_dash,
        min: 10,
        max: 255,
    },
    Shape {
        name: "Slack app token",
        prefix: b"xoxa-",
        body: alnum_dash,
        min: 10,
        max: 255,
    },
    Shape {
        name: "Slack refresh token",
        prefix: b"xoxr-",
        body: alnum_dash,
        min: 10,
        max: 255,
    },
    Shape {
        name: "Slack webhook",
        prefix: b"https://hooks.slack.com/services/",
        body: url_char,
        min: 20,
        max: 255,
    },
];

/// `secret` as its first four characters and its length, never more.
pub(crate) fn redact(secret: &str) -> String {
    let shown: String = secret.chars().take(4).collect();
    format!("{shown}… ({} characters, redacted)", secret.chars().count())
}

/// Shannon entropy in bits per character.
fn entropy(text: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in text {
        counts[usize::from(b)] += 1;
    }
    let len = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Counts findings per rule and sums up the rest.
struct Sink<'a> {
    out: &'a mut Vec<Finding>,
    counts: [usize; 3],
    component: &'a str,
}

impl Sink<'_> {
    fn slot(rule: Rule) -> usize {
        match rule {
            Rule::EmbeddedSecret => 0,
            Rule::PossibleSecret => 1,
            Rule::EmbeddedUrl
            | Rule::UndeclaredImport
            | Rule::UnknownImport
            | Rule::UnusedPermission
            | Rule::SuspiciousExport
            | Rule::MissingExport
            | Rule::MemoryUnbounded
            | Rule::MemoryOverBudget
            | Rule::OversizedComponent
            | Rule::UnreadableComponent
            | Rule::KnownVulnerability
            | Rule::LicenceDenied
            | Rule::LicenceNotAllowed
            | Rule::LicenceInvalid
            | Rule::LicenceMissing => 2,
        }
    }

    fn push(&mut self, rule: Rule, severity: Severity, message: String, at: usize, len: usize) {
        let slot = Self::slot(rule);
        self.counts[slot] += 1;
        if self.counts[slot] <= MAX_PER_RULE {
            self.out.push(Finding {
                rule,
                severity,
                message,
                location: Location::File {
                    path: self.component.to_owned(),
                    offset: Some(at as u64),
                    length: Some(len as u64),
                },
            });
        }
    }
}

/// Scans each data segment of `bytes` (ranges into it).
pub(crate) fn scan(bytes: &[u8], data: &[Range<usize>], component: &str, out: &mut Vec<Finding>) {
    let mut sink = Sink {
        out,
        counts: [0; 3],
        component,
    };
    for range in data {
        let Some(segment) = bytes.get(range.clone()) else {
            continue;
        };
        segment_findings(segment, range.start, &mut sink);
    }
    for (slot, rule) in [
        Rule::EmbeddedSecret,
        Rule::PossibleSecret,
        Rule::EmbeddedUrl,
    ]
    .into_iter()
    .enumerate()
    {
        let more = sink.counts[slot].saturating_sub(MAX_PER_RULE);
        if more > 0 {
            sink.out.push(Finding {
                rule,
                severity: Severity::Note,
                message: format!("and {more} more `{rule}` findings in the same component"),
                location: Location::File {
                    path: component.to_owned(),
                    offset: None,
                    length: None,
                },
            });
        }
    }
}

fn segment_findings(segment: &[u8], base: usize, sink: &mut Sink<'_>) {
    findings_in(segment, base, sink, true);
}

/// The findings in `text` (at `base` in the file); `urls` is false inside
/// a URL, whose text is searched for secrets but is not a URL again.
fn findings_in(text: &[u8], base: usize, sink: &mut Sink<'_>, urls: bool) {
    let segment = text;
    let mut i = 0;
    while i < segment.len() {
        let rest = &segment[i..];
        if let Some(len) = private_key(rest) {
            sink.push(
                Rule::EmbeddedSecret,
                Severity::Critical,
                format!(
                    "the component's data holds a private key ({}); remove it and revoke it",
                    redact(&String::from_utf8_lossy(&rest[..len]))
                ),
                base + i,
                len,
            );
            i += len;
            continue;
        }
        if let Some((shape, len)) = SHAPES.iter().find_map(|s| matches(s, rest).map(|n| (s, n))) {
            shape_finding(sink, shape, &rest[..len], base + i);
            i += len;
            continue;
        }
        if urls && (rest.starts_with(b"http://") || rest.starts_with(b"https://")) {
            let len = rest.iter().take_while(|&&b| url_char(b)).count();
            let url = &rest[..len];
            let searched_from = url_finding(url, base + i, sink);
            // A token can sit anywhere in a URL: as its user
            // (`https://TOKEN@host`), in its query (`?access_token=...`)
            // or its fragment. Its text is searched as any other, past a
            // password the URL's own finding already reported.
            findings_in(&url[searched_from..], base + i + searched_from, sink, false);
            i += len;
            continue;
        }
        if let Some((at, len)) = keyed_secret(rest) {
            // A known shape beside a secret word is that shape's finding.
            let candidate = &rest[at..at + len];
            if let Some(shape) = SHAPES.iter().find(|s| matches(s, candidate).is_some()) {
                shape_finding(sink, shape, candidate, base + i + at);
                i += at + len;
                continue;
            }
            sink.push(
                Rule::PossibleSecret,
                Severity::Warning,
                format!(
                    "the component's data holds a random-looking string beside `{}` ({}); \
                     if it is a credential, remove it and revoke it",
                    String::from_utf8_lossy(&rest[..word_len(rest)]),
                    redact(&String::from_utf8_lossy(&rest[at..at + len]))
                ),
                base + i + at,
                len,
            );
            i += at + len;
            continue;
        }
        i += 1;
    }
}

/// The finding for `token`, at `at` in the file, which has `shape`: a
/// known kind of secret, shown redacted.
fn shape_finding(sink: &mut Sink<'_>, shape: &Shape, token: &[u8], at: usize) {
    sink.push(
        Rule::EmbeddedSecret,
        Severity::Critical,
        format!(
            "the component's data holds what looks like a {} ({}); remove it and revoke it",
            shape.name,
            redact(&String::from_utf8_lossy(token))
        ),
        at,
        token.len(),
    );
}

fn matches(shape: &Shape, text: &[u8]) -> Option<usize> {
    let body = text.strip_prefix(shape.prefix)?;
    let n = body
        .iter()
        .take(shape.max + 1)
        .take_while(|&&b| (shape.body)(b))
        .count();
    (shape.min..=shape.max)
        .contains(&n)
        .then_some(shape.prefix.len() + n)
}

/// A PEM private key block (`-----BEGIN ... PRIVATE KEY-----` to its end).
fn private_key(text: &[u8]) -> Option<usize> {
    let head = text.strip_prefix(b"-----BEGIN ")?;
    let line_end = head.iter().take(64).position(|&b| b == b'-')?;
    if !head[..line_end].ends_with(b"PRIVATE KEY") {
        return None;
    }
    let end = text
        .windows(b"PRIVATE KEY-----".len())
        .skip(11 + line_end + 5)
        .position(|w| w == b"PRIVATE KEY-----")
        .map_or(11 + line_end + 5, |p| 11 + line_end + 5 + p + 16);
    Some(end.min(text.len()))
}

/// The finding for the URL `url` (at `at` in the file): a secret when it
/// holds a password, else a note naming it with its user, query and
/// fragment left out (any of them may be a credential). Returns where in
/// `url` a search for other secrets should start: past the password when
/// there was one.
fn url_finding(url: &[u8], at: usize, sink: &mut Sink<'_>) -> usize {
    let text = String::from_utf8_lossy(url);
    // `scheme://user:password@host`: the password is a secret.
    let after_scheme = text.find("://").map_or(0, |p| p + 3);
    let authority_end = text[after_scheme..]
        .find('/')
        .map_or(text.len(), |p| after_scheme + p);
    let authority = &text[after_scheme..authority_end];
    if let Some((userinfo, host)) = authority.rsplit_once('@')
        && let Some((user, password)) = userinfo.split_once(':')
    {
        sink.push(
            Rule::EmbeddedSecret,
            Severity::Critical,
            format!(
                "the component's data holds a URL with a password, {}{user}:{}@{host}; \
                 remove the password and change it",
                &text[..after_scheme],
                redact(password)
            ),
            at,
            url.len(),
        );
        // The lossy text has the bytes' offsets as long as it replaced
        // nothing; when it did, the whole URL is searched again.
        return if text.len() == url.len() {
            after_scheme + userinfo.len() + 1
        } else {
            0
        };
    }
    sink.push(
        Rule::EmbeddedUrl,
        Severity::Note,
        format!(
            "the component's data holds the URL {}",
            lord_terminal_safe(&url_shown(&text, after_scheme, authority_end))
        ),
        at,
        url.len(),
    );
    0
}

/// A URL as a finding shows it: scheme, host and path, with any user
/// (`…@`), query (`?…`) and fragment (`#…`) left out.
fn url_shown(text: &str, after_scheme: usize, authority_end: usize) -> String {
    let authority = &text[after_scheme..authority_end];
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => authority.to_owned(),
    };
    let rest = &text[authority_end..];
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let mut shown = format!("{}{host}{}", &text[..after_scheme], &rest[..path_end]);
    if rest[path_end..].starts_with('?') {
        shown.push_str("?…");
    }
    if rest.contains('#') {
        shown.push_str("#…");
    }
    shown
}

/// At most 200 characters of a URL, for a message.
fn lord_terminal_safe(text: &str) -> String {
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Length of the identifier-like word at the start of `text`.
fn word_len(text: &[u8]) -> usize {
    text.iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        .count()
}

/// A word ending in a secret word (`api_key`, `TOKEN`), then within a few
/// separators a string of 20 or more token characters with high entropy:
/// where the string starts (from `text`'s start) and its length.
fn keyed_secret(text: &[u8]) -> Option<(usize, usize)> {
    let word = word_len(text);
    if word == 0 || word > 40 {
        return None;
    }
    let lower = text[..word].to_ascii_lowercase();
    if !SECRET_WORDS.iter().any(|w| lower.ends_with(w.as_bytes())) {
        return None;
    }
    let gap = text[word..]
        .iter()
        .take(4)
        .take_while(|&&b| matches!(b, b'=' | b':' | b' ' | b'"' | b'\''))
        .count();
    if gap == 0 {
        return None;
    }
    let start = word + gap;
    let token = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-');
    let len = text[start..]
        .iter()
        .take(256)
        .take_while(|&&b| token(b))
        .count();
    let candidate = &text[start..start + len];
    let mixed =
        candidate.iter().any(u8::is_ascii_digit) && candidate.iter().any(u8::is_ascii_alphabetic);
    (len >= 20 && mixed && entropy(candidate) >= 3.5).then_some((start, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(data: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let whole = [std::ops::Range {
            start: 0,
            end: data.len(),
        }];
        scan(data, &whole, "plugin.wasm", &mut out);
        out
    }

    #[test]
    fn keys_and_tokens_are_found_and_never_shown_whole() {
        let aws = "AKIAIOSFODNN7EXAMPLE";
        let github = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
        let slack = "xoxb-123456789012-abcdefABCDEF";
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
        let keyed = "api_key=\"Zk3q9XfT0pLmN2vB8rW5yH7c\"";
        let data = format!("x{aws}\0{github}\0{slack}\0{pem}\0{keyed}\0");
        let findings = found(data.as_bytes());
        let secrets: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.rule == Rule::EmbeddedSecret)
            .collect();
        assert_eq!(secrets.len(), 4, "{findings:#?}");
        assert!(findings.iter().any(|f| f.rule == Rule::PossibleSecret));
        for finding in &findings {
            for whole in [
                aws,
                github.as_str(),
                slack,
                "MIIEowIBAAKCAQEA",
                "Zk3q9XfT0pLmN2vB8rW5yH7c",
            ] {
                assert!(!finding.message.contains(whole), "{}", finding.message);
            }
        }
        assert_eq!(
            secrets[0].location,
            Location::File {
                path: "plugin.wasm".to_owned(),
                offset: Some(1),
                length: Some(20)
            }
        );
    }

    #[test]
    fn urls_are_noted_and_a_password_in_one_is_a_secret() {
        let findings =
            found(b"see https://example.org/docs\0and http://ada:hunter2pass@db.example/x\0");
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_eq!(findings[0].rule, Rule::EmbeddedUrl);
        assert!(findings[0].message.contains("https://example.org/docs"));
        assert_eq!(findings[1].rule, Rule::EmbeddedSecret);
        assert!(!findings[1].message.contains("hunter2pass"));
    }

    #[test]
    fn a_token_inside_a_url_is_found_and_the_url_is_never_shown_whole() {
        let github = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
        let keyed = "Zk3q9XfT0pLmN2vB8rW5yH7c";
        let data = format!(
            "https://api.github.com/x?access_token={github}&page=2\0\
             https://{github}@github.com/o/r.git\0\
             https://hooks.example/in#sig={keyed}\0\
             http://ada:hunter2pass@db.example/x?api_key={keyed}\0"
        );
        let findings = found(data.as_bytes());
        let rules: Vec<Rule> = findings.iter().map(|f| f.rule).collect();
        assert_eq!(
            rules,
            [
                Rule::EmbeddedUrl,
                Rule::EmbeddedSecret,
                Rule::EmbeddedUrl,
                Rule::EmbeddedSecret,
                Rule::EmbeddedUrl,
                Rule::EmbeddedSecret,
                Rule::PossibleSecret,
            ],
            "{findings:#?}"
        );
        // The token beside `access_token` is a GitHub token, critical
        // (publishing refuses it), at its own offset.
        assert_eq!(findings[1].severity, Severity::Critical);
        assert!(
            findings[1].message.contains("GitHub"),
            "{}",
            findings[1].message
        );
        let offset = data.find(&github).expect("in the data");
        assert_eq!(
            findings[1].location,
            Location::File {
                path: "plugin.wasm".to_owned(),
                offset: Some(offset as u64),
                length: Some(github.len() as u64)
            }
        );
        assert!(
            findings[0]
                .message
                .ends_with("the URL https://api.github.com/x?…"),
            "{}",
            findings[0].message
        );
        assert!(
            findings[2]
                .message
                .ends_with("the URL https://…@github.com/o/r.git"),
            "{}",
            findings[2].message
        );
        // A secret word in a fragment: a possible secret; the URL's note
        // leaves the fragment out. A password and a key in one URL are
        // each reported once.
        assert!(findings[4].message.ends_with("https://hooks.example/in#…"));
        assert!(findings[5].message.contains("password"));
        assert_eq!(findings[6].rule, Rule::PossibleSecret);
        for finding in &findings {
            for whole in [github.as_str(), keyed, "hunter2pass"] {
                assert!(!finding.message.contains(whole), "{}", finding.message);
            }
        }
    }

    #[test]
    fn ordinary_text_is_not_a_secret() {
        let findings = found(
            b"the key of this map is missing\0token=short\0monkey: aaaaaaaaaaaaaaaaaaaaaaaa\0",
        );
        assert!(findings.is_empty(), "{findings:#?}");
    }
}
