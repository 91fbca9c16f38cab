//! krust benchmarks. Each compares krust with a reference run in the same process or run
//! and prints the ratios.

pub mod etcd;
pub mod store;
