//! krust benchmarks. Each compares krust with a reference run in the same process or run
//! and prints the ratios.

pub mod churn;
pub mod cluster;
pub mod etcd;
pub mod reference;
pub mod scheduler;
pub mod store;
