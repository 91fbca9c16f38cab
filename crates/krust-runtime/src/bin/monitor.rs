//! The per-container monitor as its own executable, for the crate's tests and examples
//! (the krust CLI runs the same code as `krust monitor`).
fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(krust_runtime::monitor_main(&args));
}
