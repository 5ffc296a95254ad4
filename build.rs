//! Compiles the Slint UI in `ui/` with its translations from `ui/lang/` and with the element
//! names the UI tests' accessibility queries need (`tests/it/ui_screens.rs`), and tells the tests
//! whether the shared test data is there: cfg `shared_data` when `../shared` (or
//! `$FACEGATE_SHARED`) exists, and its path as `FACEGATE_SHARED_DIR`. Tests that need it are
//! ignored without it, so libtest counts them as skipped instead of passed.

use std::path::PathBuf;

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("ui/lang")
        .with_debug_info(true);
    slint_build::compile_with_config("ui/main.slint", config).expect("the UI in ui/ compiles");

    println!("cargo::rustc-check-cfg=cfg(shared_data)");
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
