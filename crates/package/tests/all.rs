//! Packages: packing is reproducible, every hostile archive is refused with
//! a clear error, and signatures fail closed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use lord_package::{Digest, Keys, Limits, PackageError, Provenance, Signature, open, pack, unpack};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the hello plugin with a README, docs and a file that must not
/// be packed.
fn hello_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let src = repo().join("plugins/hello");
    for name in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(src.join(name), dir.path().join(name)).expect("copy");
    }
    std::fs::write(dir.path().join("README.md"), "# hello\n").expect("readme");
    std::fs::create_dir_all(dir.path().join("docs/guide")).expect("docs");
    std::fs::write(dir.path().join("docs/guide/use.md"), "use it\n").expect("doc");
    std::fs::write(dir.path().join("notes.txt"), "not packed\n").expect("other");
    dir
}

#[test]
fn packing_is_reproducible_and_holds_only_the_package_files() {
    let first = hello_copy();
    // A second copy, written later: other times, same content.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = hello_copy();
    let a = pack(first.path()).expect("pack");
    let b = pack(second.path()).expect("pack again");
    assert_eq!(a.bytes, b.bytes, "two packs of the same files differ");
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.digest, Digest::of(&a.bytes));
    assert_eq!(a.file_name(), "hello-0.1.0.lordpkg");
    let names: Vec<_> = a.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "README.md",
            "docs/guide/use.md",
            "plugin.toml",
            "plugin.wasm"
        ]
    );

    let dest = tempfile::tempdir().expect("dest");
    let unpacked = unpack(&a.bytes, dest.path(), &Limits::default()).expect("unpack");
    assert_eq!(unpacked.files, a.files);
    assert_eq!(
        std::fs::read(dest.path().join("plugin.wasm")).expect("component"),
        std::fs::read(first.path().join("plugin.wasm")).expect("original")
    );
}

#[cfg(unix)]
#[test]
fn a_folder_with_a_link_is_not_packed() {
    let dir = hello_copy();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("docs/passwd")).expect("link");
    let error = pack(dir.path()).expect_err("packed a link");
    assert!(error.to_string().contains("link"), "{error}");
}

/// One raw tar entry, written by hand so its header can say anything.
struct Raw<'a> {
    name: &'a [u8],
    kind: u8,
    data: &'a [u8],
    /// The size the header claims (defaults to the data's).
    claimed: Option<u64>,
    link: &'a [u8],
}

fn raw(name: &str, data: &[u8]) -> Raw<'static> {
    Raw {
        name: Box::leak(name.as_bytes().to_vec().into_boxed_slice()),
        kind: b'0',
        data: Box::leak(data.to_vec().into_boxed_slice()),
        claimed: None,
        link: b"",
    }
}

fn tar_of(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        {
            let old = header.as_old_mut();
            old.name[..entry.name.len()].copy_from_slice(entry.name);
            old.linkname[..entry.link.len()].copy_from_slice(entry.link);
        }
        header.set_size(entry.claimed.unwrap_or(entry.data.len() as u64));
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::new(entry.kind));
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(entry.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn manifest() -> Vec<u8> {
    std::fs::read(repo().join("plugins/hello/plugin.toml")).expect("manifest")
}

/// Unpacks into a fresh folder and returns the error and what the folder
/// holds outside itself (nothing may escape).
fn refused(archive: &[u8], limits: &Limits) -> String {
    let outer = tempfile::tempdir().expect("outer");
    let dest = outer.path().join("dest");
    std::fs::create_dir(&dest).expect("dest");
    let error = unpack(archive, &dest, limits).expect_err("a hostile archive unpacked");
    let outside: Vec<_> = std::fs::read_dir(outer.path())
        .expect("outer")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        outside,
        ["dest"],
        "something was written outside the folder"
    );
    assert!(
        matches!(error, PackageError::Refused(_) | PackageError::Malformed(_)),
        "{error:?}"
    );
    error.to_string()
}

#[test]
fn a_path_that_climbs_out_is_refused() {
    let archive = gzip(&tar_of(&[
        raw("plugin.toml", &manifest()),
        raw("../evil", b"x"),
    ]));
    let message = refused(&archive, &Limits::default());
    assert!(message.contains("`..` segment"), "{message}");
    let nested = gzip(&tar_of(&[raw("docs/../../evil", b"x")]));
    assert!(refused(&nested, &Limits::default()).contains("`..` segment"));
}

#[test]
fn an_absolute_path_is_refused() {
    let archive = gzip(&tar_of(&[raw("/tmp/lord-evil", b"x")]));
    let message = refused(&archive, &Limits::default());
    assert!(message.contains("absolute path"), "{message}");
}

#[test]
fn links_are_refused() {
    for (kind, word) in [(b'2', "symbolic link"), (b'1', "hard link")] {
        let mut link = raw("docs/passwd", b"");
        link.kind = kind;
        link.link = b"/etc/passwd";
        let archive = gzip(&tar_of(&[raw("plugin.toml", &manifest()), link]));
        let message = refused(&archive, &Limits::default());
        assert!(message.contains(word), "{message}");
    }
    let mut device = raw("dev", b"");
    device.kind = b'3';
    assert!(refused(&gzip(&tar_of(&[device])), &Limits::default()).contains("device"));
}

#[test]
fn a_compression_bomb_is_refused_before_it_is_read_whole() {
    // 64 MiB of zeros compresses to about 64 KiB: a ratio near 1000.
    let zeros = vec![0u8; 64 << 20];
    let archive = gzip(&tar_of(&[
        raw("plugin.toml", &manifest()),
        raw("bomb", &zeros),
    ]));
    assert!(archive.len() < 1 << 20);
    let message = refused(&archive, &Limits::default());
    assert!(message.contains("compression bomb"), "{message}");
}

#[test]
fn entries_over_the_caps_are_refused_whatever_they_claim() {
    let big = vec![7u8; 100 << 10];
    let oversized_manifest = gzip(&tar_of(&[raw("plugin.toml", &big)]));
    let message = refused(&oversized_manifest, &Limits::default());
    assert!(
        message.contains("`plugin.toml` is 102400 bytes"),
        "{message}"
    );

    let small = Limits {
        max_entry_bytes: 1000,
        ..Limits::default()
    };
    let message = refused(&gzip(&tar_of(&[raw("blob", &big)])), &small);
    assert!(message.contains("over the 1000-byte limit"), "{message}");

    let few = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let many: Vec<_> = (0..5).map(|i| raw(&format!("f{i}"), b"x")).collect();
    assert!(refused(&gzip(&tar_of(&many)), &few).contains("more than 3 entries"));

    let twice = gzip(&tar_of(&[raw("a", b"1"), raw("a", b"2")]));
    assert!(refused(&twice, &Limits::default()).contains("appears twice"));
}

#[test]
fn a_truncated_or_damaged_archive_is_refused() {
    let packed = pack(&repo().join("plugins/hello")).expect("pack");
    let cut = &packed.bytes[..packed.bytes.len() / 2];
    let message = refused(cut, &Limits::default());
    assert!(message.contains("truncated or damaged"), "{message}");

    // A header that claims more bytes than follow.
    let mut short = raw("plugin.toml", &manifest());
    short.claimed = Some(60_000);
    let message = refused(&gzip(&tar_of(&[short])), &Limits::default());
    assert!(message.contains("truncated or damaged"), "{message}");

    let mut flipped = packed.bytes.clone();
    let at = flipped.len() - 6;
    flipped[at] ^= 0xff;
    refused(&flipped, &Limits::default());

    let message = refused(
        &gzip(&tar_of(&[raw("README.md", b"hi")])),
        &Limits::default(),
    );
    assert!(message.contains("no `plugin.toml`"), "{message}");
}

/// A signed package on disk, and the keys of its home.
struct Signed {
    dir: tempfile::TempDir,
    package: PathBuf,
    keys: Keys,
}

fn signed() -> Signed {
    let dir = tempfile::tempdir().expect("dir");
    let keys = Keys::new(&dir.path().join("home"));
    keys.generate("alice").expect("key");
    let packed = pack(&repo().join("plugins/hello")).expect("pack");
    let package = dir.path().join(packed.file_name());
    std::fs::write(&package, &packed.bytes).expect("write");
    let signature = keys.sign("alice", &packed.digest).expect("sign");
    std::fs::write(Signature::path_for(&package), signature.to_json()).expect("sig");
    Signed { dir, package, keys }
}

fn open_in(
    s: &Signed,
    trusted: &[lord_package::PublicKey],
    allow: bool,
) -> Result<Provenance, PackageError> {
    let dest = tempfile::tempdir_in(s.dir.path()).expect("dest");
    open(&s.package, dest.path(), trusted, allow, &Limits::default()).map(|o| o.provenance)
}

#[test]
fn a_signed_package_opens_under_a_trusted_key() {
    let s = signed();
    let trusted = s.keys.trusted().expect("trusted");
    match open_in(&s, &trusted, false).expect("open") {
        Provenance::Signed(v) => assert_eq!(v.name, "alice"),
        Provenance::AllowedUnsigned => panic!("a signed package opened as unsigned"),
    }
}

#[test]
fn a_package_changed_after_signing_is_refused() {
    let s = signed();
    let mut bytes = std::fs::read(&s.package).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&s.package, bytes).expect("tamper");
    let trusted = s.keys.trusted().expect("trusted");
    let error = open_in(&s, &trusted, true).expect_err("tampered package opened");
    assert!(
        matches!(error, PackageError::DigestMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("changed after it was signed"));
}

#[test]
fn a_stripped_signature_is_refused_unless_allowed() {
    let s = signed();
    std::fs::remove_file(Signature::path_for(&s.package)).expect("strip");
    let trusted = s.keys.trusted().expect("trusted");
    let error = open_in(&s, &trusted, false).expect_err("unsigned package opened");
    assert!(matches!(error, PackageError::Unsigned(_)), "{error}");
    assert!(error.to_string().contains("--allow-unsigned"));
    assert_eq!(
        open_in(&s, &trusted, true).expect("allowed"),
        Provenance::AllowedUnsigned
    );
}

#[test]
fn a_signature_by_an_untrusted_or_wrong_key_is_refused() {
    let s = signed();
    // Mallory signs the same bytes with a key the user never trusted.
    let other_home = tempfile::tempdir().expect("other");
    let mallory = Keys::new(other_home.path());
    mallory.generate("mallory").expect("key");
    let digest = Digest::of(&std::fs::read(&s.package).expect("read"));
    let forged = mallory.sign("mallory", &digest).expect("sign");
    let sig_path = Signature::path_for(&s.package);
    std::fs::write(&sig_path, forged.to_json()).expect("write");
    let trusted = s.keys.trusted().expect("trusted");
    let error = open_in(&s, &trusted, true).expect_err("untrusted key accepted");
    assert!(matches!(error, PackageError::UntrustedKey(_)), "{error}");

    // The same signature relabelled as alice's key does not verify.
    let alice = s.keys.public("alice").expect("alice");
    let relabelled = Signature {
        key: alice.id(),
        ..forged
    };
    std::fs::write(&sig_path, relabelled.to_json()).expect("write");
    let error = open_in(&s, &trusted, true).expect_err("forged signature accepted");
    assert!(matches!(error, PackageError::BadSignature(_)), "{error}");

    std::fs::write(&sig_path, "not json").expect("write");
    let error = open_in(&s, &trusted, true).expect_err("junk signature accepted");
    assert!(
        matches!(error, PackageError::SignatureFormat { .. }),
        "{error}"
    );
}

/// A release signature vouches for the version and platform with the
/// bytes: it verifies only as that release, never as a package or as
/// another release, and a package's signature never verifies as a
/// release; the statement cannot be edited into another.
#[test]
fn a_release_signature_vouches_for_its_version_and_platform_only() {
    use lord_package::{ReleaseStatement, verify, verify_release};
    let home = tempfile::tempdir().expect("home");
    let keys = Keys::new(home.path());
    keys.generate("ada").expect("key");
    let trusted = keys.trusted().expect("trusted");
    let digest = Digest::of(b"lord 1");
    let statement = |version: &str, platform: &str| ReleaseStatement {
        version: version.to_owned(),
        platform: platform.to_owned(),
    };
    let one = statement("1.0.0", "x86_64-linux");
    let signed = keys
        .sign_release("ada", &digest, one.clone())
        .expect("sign");
    verify_release(&signed, &digest, &one, &trusted).expect("verifies as itself");
    let error = verify(&signed, &digest, &trusted).expect_err("a release as a package");
    assert!(
        error.to_string().contains("offered as a package"),
        "{error}"
    );
    for other in [
        statement("3.0.0", "x86_64-linux"),
        statement("1.0.0", "aarch64-linux"),
    ] {
        let error =
            verify_release(&signed, &digest, &other, &trusted).expect_err("another release");
        assert!(
            matches!(error, PackageError::ReleaseMismatch { .. }),
            "{error}"
        );
        // The statement edited to match: the signature does not cover it.
        let edited = Signature {
            release: Some(other.clone()),
            ..signed.clone()
        };
        let error = verify_release(&edited, &digest, &other, &trusted).expect_err("edited");
        assert!(matches!(error, PackageError::BadSignature(_)), "{error}");
    }
    let package = keys.sign("ada", &digest).expect("sign");
    let error = verify_release(&package, &digest, &one, &trusted).expect_err("a package");
    assert!(
        error.to_string().contains("vouches for a package"),
        "{error}"
    );
    let as_release = Signature {
        release: Some(one.clone()),
        ..package
    };
    let error = verify_release(&as_release, &digest, &one, &trusted).expect_err("relabelled");
    assert!(matches!(error, PackageError::BadSignature(_)), "{error}");
    // A statement that is not a release is never signed.
    for bad in [
        statement("1.0", "x86_64-linux"),
        statement("1.0.0", "linux\0x"),
    ] {
        assert!(keys.sign_release("ada", &digest, bad).is_err());
    }
}

/// `lord key generate` cut short after the secret was written (the
/// public key and its trusted copy missing): running it again reports the
/// key as existing and completes it from the secret, so it signs and its
/// signatures install.
#[test]
fn a_key_generated_only_in_part_is_completed_from_its_secret() {
    let home = tempfile::tempdir().expect("home");
    let keys = Keys::new(home.path());
    let whole = keys.generate("ada").expect("generate");
    std::fs::remove_file(home.path().join("keys/ada.pub")).expect("remove the public key");
    std::fs::remove_file(home.path().join(format!("keys/trusted/{}.pub", whole.id())))
        .expect("remove the trusted copy");
    assert!(keys.public("ada").is_err());

    let again = keys.generate("ada").expect_err("the key exists");
    assert!(matches!(again, PackageError::KeyExists(_)), "{again}");
    assert_eq!(keys.public("ada").expect("completed").id(), whole.id());
    let digest = Digest::of(b"bytes");
    let signature = keys.sign("ada", &digest).expect("sign");
    lord_package::verify(&signature, &digest, &keys.trusted().expect("trusted"))
        .expect("its signatures verify under the trusted keys");
}

#[test]
fn keys_round_trip_and_secret_keys_are_private() {
    let home = tempfile::tempdir().expect("home");
    let keys = Keys::new(home.path());
    let alice = keys.generate("alice").expect("generate");
    assert!(matches!(
        keys.generate("alice"),
        Err(PackageError::KeyExists(_))
    ));
    let text = keys.public("alice").expect("export").to_text();
    assert_eq!(
        lord_package::PublicKey::parse("export", &text).expect("parse"),
        alice
    );

    let other = tempfile::tempdir().expect("other");
    let theirs = Keys::new(other.path());
    theirs.trust(&alice).expect("trust");
    let listed = theirs.list().expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].trusted && !listed[0].can_sign);
    let mine = keys.list().expect("list");
    assert!(mine[0].trusted && mine[0].can_sign);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(home.path().join("keys/alice.secret"))
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
