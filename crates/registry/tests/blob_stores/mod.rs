//! The blob store on its own, against every object store the build
//! supports: a folder and memory always; with the `cloud` feature a real
//! S3 API (moto) and a real Azure Blob API (Azurite), each on loopback.
//! GCS is built but not tested.

use lord_registry::Blobs;

#[test]
fn blobs_live_in_any_object_store_the_build_supports() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let folder = url::Url::from_directory_path(dir.path()).expect("file url");
    #[cfg(feature = "cloud")]
    let moto = crate::moto::Moto::start();
    #[cfg(feature = "cloud")]
    let s3 = moto.as_ref().map(|moto| moto.blobs("round-trip"));
    #[cfg(feature = "cloud")]
    let azurite = crate::azurite::Azurite::start();
    #[cfg(feature = "cloud")]
    let azure = azurite.as_ref().map(|azurite| azurite.blobs("round-trip"));
    #[cfg(not(feature = "cloud"))]
    let (s3, azure) = (None, None);
    let stores = [
        Blobs::open("memory:///").expect("memory"),
        Blobs::open(folder.as_str()).expect("folder"),
    ]
    .into_iter()
    .chain(s3)
    .chain(azure);
    let digest = lord_package::Digest::of(b"package bytes").to_string();
    for blobs in stores {
        runtime
            .block_on(blobs.put(&digest, b"package bytes".to_vec()))
            .expect("put");
        // A second put of the same digest keeps the first.
        runtime
            .block_on(blobs.put(&digest, b"package bytes".to_vec()))
            .expect("put again");
        assert_eq!(
            runtime.block_on(blobs.get(&digest)).expect("get"),
            b"package bytes"
        );
        assert!(runtime.block_on(blobs.get(&"cd".repeat(32))).is_err());
    }
    assert!(dir.path().join("sha256").join(&digest[..2]).is_dir());
    // Without the `cloud` feature, a cloud URL is refused and says why.
    #[cfg(not(feature = "cloud"))]
    {
        let error = Blobs::open("s3://bucket/prefix").expect_err("s3 without cloud");
        assert!(error.to_string().contains("`cloud` feature"), "{error}");
    }
}

/// A blob a power cut left short (written by a server that did not sync
/// its folder) or damaged in place is written again by the next put of
/// its digest, the retry of the publish; one that is whole is kept.
#[test]
fn a_blob_cut_short_is_written_again() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let folder = url::Url::from_directory_path(dir.path()).expect("file url");
    let blobs = Blobs::open(folder.as_str()).expect("folder");
    let bytes = b"a package long enough to be cut in half".to_vec();
    let digest = lord_package::Digest::of(&bytes).to_string();
    let file = dir.path().join("sha256").join(&digest[..2]).join(&digest);
    runtime
        .block_on(blobs.put(&digest, bytes.clone()))
        .expect("put");
    assert_eq!(std::fs::read(&file).expect("blob"), bytes);

    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("cut short");
    runtime
        .block_on(blobs.put(&digest, bytes.clone()))
        .expect("put again");
    assert_eq!(std::fs::read(&file).expect("blob"), bytes, "kept short");

    let mut damaged = bytes.clone();
    damaged[0] ^= 1;
    std::fs::write(&file, &damaged).expect("damaged");
    runtime
        .block_on(blobs.put(&digest, bytes.clone()))
        .expect("put again");
    assert_eq!(runtime.block_on(blobs.get(&digest)).expect("get"), bytes);

    // A whole blob is not written again: its file stays the same one.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let inode = std::fs::metadata(&file).expect("blob").ino();
        runtime
            .block_on(blobs.put(&digest, bytes.clone()))
            .expect("put again");
        assert_eq!(std::fs::metadata(&file).expect("blob").ino(), inode);
    }
}

/// Azure beyond the round trip: a blob lands in its container where the
/// registry's layout says (seen by Azurite's own listing), a blob deleted
/// behind the registry's back is gone for it too, and a missing container
/// or a wrong account key is an error rather than a silent success.
#[cfg(feature = "cloud")]
#[test]
fn azure_blobs_are_signed_and_land_in_their_container() {
    let Some(azurite) = crate::azurite::Azurite::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let blobs = azurite.blobs("packages");
    let digest = "ab".repeat(32);
    runtime
        .block_on(blobs.put(&digest, b"package bytes".to_vec()))
        .expect("put");
    let name = format!("registry/sha256/ab/{digest}");
    assert_eq!(azurite.list("packages"), std::slice::from_ref(&name));
    assert_eq!(
        runtime.block_on(blobs.get(&digest)).expect("get"),
        b"package bytes"
    );
    azurite.delete("packages", &name);
    assert_eq!(azurite.list("packages"), Vec::<String>::new());
    let error = runtime.block_on(blobs.get(&digest)).expect_err("deleted");
    assert!(error.to_string().contains("not found"), "{error}");

    // A container nobody made: the registry's first write fails.
    let nowhere = Blobs::open_with("az://nowhere/registry", azurite.settings()).expect("open");
    let error = runtime
        .block_on(nowhere.put(&digest, b"package bytes".to_vec()))
        .expect_err("no container");
    // Azure's own error code, so it failed for this reason and no other.
    assert!(error.to_string().contains("ContainerNotFound"), "{error}");

    // Another key (valid base64, wrong account key): Azurite refuses the
    // signature, so the settings truly reach the signer.
    let wrong = crate::azurite::KEY.replace('E', "F");
    let forged = Blobs::open_with(
        &azurite.container("forged"),
        azurite.settings_with_key(&wrong),
    )
    .expect("open");
    let error = runtime
        .block_on(forged.put(&digest, b"package bytes".to_vec()))
        .expect_err("wrong key");
    assert!(error.to_string().contains("403"), "{error}");
    assert_eq!(azurite.list("forged"), Vec::<String>::new());
}
