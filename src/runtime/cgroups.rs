//! The container's cgroup. This is the seam where the launcher places init into its
//! cgroup, before init unshares its cgroup namespace (so the container sees itself at
//! `/`). Limits, backends (v2 first, v1/hybrid fallback), OOM and stats come in the
//! resource-limits work; until then no cgroup is created and init stays in the caller's.

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup: {0}")]
    Io(#[from] std::io::Error),
}

/// A container's cgroup, owned by the launcher/monitor that created it.
#[derive(Debug, Default)]
pub struct Cgroup {}

impl Cgroup {
    /// Create the cgroup a spec asks for, below the caller's own cgroup.
    pub fn create(
        _spec: &oci_spec::runtime::Spec,
        _id: &str,
    ) -> Result<Option<Cgroup>, CgroupError> {
        Ok(None)
    }

    /// Move `pid` (the container's init, not yet running user code) into the cgroup.
    pub fn join(&self, _pid: i32) -> Result<(), CgroupError> {
        Ok(())
    }

    /// Remove the cgroup after the container is gone.
    pub fn remove(self) -> Result<(), CgroupError> {
        Ok(())
    }
}
