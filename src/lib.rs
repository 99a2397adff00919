//! nsbox: a container runtime you can read.
//!
//! The library behind the `nsbox` binary. [`runtime`] executes any OCI runtime spec
//! (namespaces, cgroups, rootfs, process, security) and knows nothing of images or Docker;
//! [`image`] is the content store; the Docker semantics sit above them, and [`cli`] holds the
//! two command-line personalities (Docker's `nsbox`, runc's `nsbox-runtime`).

pub mod cli;
pub mod dataroot;
pub mod explain;
pub mod image;
pub mod monitor;
pub mod runtime;
pub mod scratch;
pub mod spec;
pub mod state;
pub mod storage;

pub use oci_spec;
