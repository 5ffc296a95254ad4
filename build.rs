//! Compiles the Slint UI in `ui/` with its translations from `ui/lang/` and with the element
//! names the UI tests' accessibility queries need (`tests/it/ui_screens.rs`), and tells the tests
//! whether the shared test data is there: cfg `shared_data` when `../shared` (or
//! `$FACEGATE_SHARED`) exists, and its path as `FACEGATE_SHARED_DIR`; cfg `as_root` when the
//! build (and so the test run) is root's, which giving a file to another user needs. Tests that
//! need either are ignored without it, so libtest counts them as skipped instead of passed.

use std::path::PathBuf;

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("ui/lang")
        .with_debug_info(true);
    slint_build::compile_with_config("ui/main.slint", config).expect("the UI in ui/ compiles");

    println!("cargo::rustc-check-cfg=cfg(shared_data)");
    println!("cargo::rustc-check-cfg=cfg(as_root)");
    if effective_uid() == Some(0) {
        println!("cargo::rustc-cfg=as_root");
    }
    println!("cargo::rerun-if-env-changed=FACEGATE_SHARED");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let shared = std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../shared"));
    println!("cargo::rustc-env=FACEGATE_SHARED_DIR={}", shared.display());
    if shared.is_dir() {
        println!("cargo::rustc-cfg=shared_data");
        // Only a path that exists: cargo reruns a script on every build for a missing one. So a
        // folder that appears later is noticed when FACEGATE_SHARED or this file changes.
        println!("cargo::rerun-if-changed={}", shared.display());
    }
}

/// The build's effective user id, from the kernel's status of this process.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
