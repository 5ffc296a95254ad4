//! The touchscreen: the Slint UI in `ui/` and the glue that shows the runtime's [`Screen`] on
//! it and turns taps into [`Action`]s. No decision is made here.

mod adapter;
#[cfg(feature = "window")]
pub mod desktop;
pub mod headless;
#[cfg(any(feature = "window", feature = "kms"))]
pub mod touchscreen;

pub use adapter::{connect, select_language, show};

slint::include_modules!();
