//! krust's node image store: a content-addressed store of OCI images under the data dir,
//! fed by `docker save`/OCI archives, with each layer unpacked once and shared as an
//! overlayfs lower directory.

pub mod archive;
pub mod digest;
pub mod error;
pub mod oci;
pub mod reference;
pub mod store;
pub mod unpack;

#[cfg(test)]
mod testing;

pub use digest::Digest;
pub use error::{Error, Result};
pub use reference::Reference;
pub use store::ImageStore;
