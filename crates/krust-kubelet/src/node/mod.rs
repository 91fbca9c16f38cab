//! The real node's kubelet: the parts that run pods as Linux containers on this host.

pub mod images;
