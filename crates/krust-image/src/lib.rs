//! krust's node image store: a content-addressed store of OCI images under the data dir,
//! fed by `docker save`/OCI archives and by pulls from OCI registries, with each layer
//! unpacked once and shared as an overlayfs lower directory.

pub mod archive;
pub mod auth;
pub mod build;
pub mod digest;
pub mod error;
pub mod oci;
pub mod pull;
pub mod push;
pub mod reference;
pub mod save;
pub mod store;
pub mod unpack;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use archive::Loaded;
pub use auth::Credentials;
pub use digest::Digest;
pub use error::{Error, Result};
pub use pull::{PullOptions, Puller};
pub use reference::Reference;
pub use store::{ImageStore, store_dir};
