//! Integration tests of `krust-apiserver` (in `tests/`): kube-rs clients, and raw HTTP where
//! the bytes matter, against an in-process API server on a temporary store, started through
//! `krust-testkit`. They live in a crate of their own, as Kubernetes keeps
//! `test/integration/apiserver` apart from the API server, so that no crate depends on
//! itself through its tests.
