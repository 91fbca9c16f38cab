//! Links the krust executable at a fixed address (not position-independent).
//!
//! Every `krust monitor` (one per running container) is this binary executed again. A
//! position-independent executable has its ~1 MiB of `.data.rel.ro` and GOT relocated by
//! the dynamic loader at each start, which writes every page of them: ~1 MiB of private
//! memory per process, per container. Linked at a fixed address those pages are resolved
//! at link time and stay clean, shared file pages (`krust-bench pods`, memory per pod).
fn main() {
    println!("cargo:rustc-link-arg-bin=krust=-no-pie");
}
