//! pardl: a parallel file downloader built on two levels of hand-written thread pools.
pub mod links;
pub mod name;
pub mod pool;
