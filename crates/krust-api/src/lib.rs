//! The krust resource model: the one resource table that drives the server, and the
//! machinery that works on objects as JSON (validation, defaulting, selectors, patches,
//! protobuf request decoding and Table printing).
#![forbid(unsafe_code)]

pub mod cidr;
pub mod convert;
pub mod csr;
pub mod custom;
pub mod decode;
pub mod defaults;
pub mod meta;
pub mod patch;
pub mod printers;
pub mod protobuf;
pub mod quantity;
pub mod resources;
pub mod schema;
pub mod selectors;
pub mod status;
pub mod validation;
