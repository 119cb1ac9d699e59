//! Validators: `validate.email`, `validate.url`, `validate.semver`. As
//! transformers they pass valid input through unchanged and fail otherwise;
//! as guards of conditional steps they answer through `validate`.

use lord_pdk::{Json, Micro, MicroContext};

struct Validate;

fn email(s: &str) -> Result<(), String> {
    let (local, domain) = s.split_once('@').ok_or("no `@`")?;
    if local.is_empty() || local.len() > 64 {
        return Err("the part before `@` must be 1 to 64 characters".into());
    }
    if local.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err("the part before `@` has a space or a second `@`".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain needs a dot (like example.org)".into());
    }
    for label in labels {
        if label.is_empty()
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!("`{label}` is not a valid domain label"));
        }
    }
    Ok(())
}

fn url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, port)| {
        if port.parse::<u16>().is_ok() {
            h
        } else {
            host_port
        }
    });
    if host.is_empty() || host.chars().any(|c| c.is_whitespace()) {
        return Err("no host".into());
    }
    if s.chars().any(char::is_whitespace) {
        return Err("URLs cannot contain spaces".into());
    }
    Ok(())
}

fn number(part: &str, what: &str) -> Result<(), String> {
    if part.is_empty() || !part.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{what} `{part}` is not a number"));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(format!("{what} `{part}` has a leading zero"));
    }
    Ok(())
}

fn semver(s: &str) -> Result<(), String> {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Err("expected MAJOR.MINOR.PATCH".into());
    }
    number(parts[0], "major")?;
    number(parts[1], "minor")?;
    number(parts[2], "patch")?;
    let tail = &s[core.len()..];
    let ident_ok = |t: &str| {
        !t.is_empty()
            && t.split('.').all(|id| {
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    let (pre, build) = match tail.split_once('+') {
        Some((pre, build)) => (pre, Some(build)),
        None => (tail, None),
    };
    if let Some(pre) = pre.strip_prefix('-') {
        if !ident_ok(pre) {
            return Err(format!("pre-release `{pre}` is not valid"));
        }
    } else if !pre.is_empty() {
        return Err(format!("unexpected `{pre}`"));
    }
    if let Some(build) = build
        && !ident_ok(build)
    {
        return Err(format!("build metadata `{build}` is not valid"));
    }
    Ok(())
}

fn check(ctx: &MicroContext, input: &Json) -> Result<(), String> {
    let text = input.as_str().ok_or("expected a JSON string")?;
    let result = match ctx.id.as_str() {
        "validate.email" => email(text),
        "validate.url" => url(text),
        "validate.semver" => semver(text),
        other => return Err(format!("micro-validate has no micro-plugin `{other}`")),
    };
    result.map_err(|why| format!("`{text}` is not valid: {why}"))
}

impl Micro for Validate {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        check(ctx, &input)?;
        Ok(input)
    }

    fn validate(ctx: &MicroContext, input: &Json) -> Result<(), String> {
        check(ctx, input)
    }
}

lord_pdk::export_micro!(Validate);
