//! Container storage: the overlay root filesystem, volumes, and copying image content into them.

pub mod copy;
pub mod overlay;
pub mod subids;
pub mod usage;
pub mod volumes;
