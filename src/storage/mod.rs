//! Container storage: the overlay root filesystem (and, later, volumes).

pub mod overlay;
