//! Images: a content-addressed store, loaders for the three archive formats, and a safe
//! layer unpacker that turns OCI whiteouts into overlay whiteouts.
//!
//! Contract with the rest of nsbox (keep it stable):
//! - `ImageStore::open(&DataRoot)` creates the store dirs if missing.
//! - `load(path)` accepts an OCI layout dir, an OCI archive tar, a `docker save` tar.
//! - `resolve("busybox")`, `resolve("busybox:latest")`, `resolve("<id prefix>")`,
//!   `resolve("sha256:<id>")` → the image record.
//! - `layer_dirs(&record)` → the unpacked layer dirs, **bottom first**, each `<root>/overlay/<hex>/diff`.
//! - `config(&record)` → the OCI image configuration (Env, Cmd, Entrypoint, WorkingDir, User...).
//! - `list()`, `import(path, "name:tag")`, `remove(reference, force)`, `inspect_json(&record)`.
//! - Layers made visible: `changes` (docker diff), `commit`, `export`, `save` (OCI archive),
//!   `analysis` (per-layer stats, path trace, wasted bytes) over a `view::Stack` of layer dirs.

pub mod analysis;
pub mod changes;
pub mod commit;
mod digest;
pub mod export;
mod instr;
mod load;
mod manifest;
pub mod save;
mod store;
mod tarball;
mod unpack;
pub mod view;
mod whiteout;

// Part of the contract for run/storage, which do not call all of it yet.
#[allow(unused_imports)]
pub use store::{normalize, short, ImageError, ImageRecord, ImageStore, Pruned, Removed};
