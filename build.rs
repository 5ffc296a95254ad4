//! Compiles the Slint UI in `ui/` with its translations from `ui/lang/`, and with the element
//! names the UI tests' accessibility queries need (`tests/ui_screens.rs`).

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("ui/lang")
        .with_debug_info(true);
    slint_build::compile_with_config("ui/main.slint", config).expect("the UI in ui/ compiles");
}
