//! Compiles the Slint UI in `ui/` with its translations from `ui/lang/`.

fn main() {
    let config = slint_build::CompilerConfiguration::new().with_bundled_translations("ui/lang");
    slint_build::compile_with_config("ui/main.slint", config).expect("the UI in ui/ compiles");
}
