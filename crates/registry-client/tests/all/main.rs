//! lord-registry-client's integration tests: the TUF client against
//! repositories the tests build and sign themselves (`repo.rs`), served as
//! `file://` metadata folders.

mod bins;
mod download;
mod repo;
mod rotation;
