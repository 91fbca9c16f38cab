//! krust benchmarks. Each compares krust with a reference run in the same process or run,
//! prints the ratios, and judges the targets of the repository's `SPECIFICATION.md` (`spec`).

pub mod algorithm;
pub mod churn;
pub mod cluster;
pub mod etcd;
pub mod network;
pub mod pods;
pub mod reference;
pub mod scheduler;
pub mod spec;
pub mod start;
pub mod store;
