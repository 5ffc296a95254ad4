//! Inference kernels that tract runs slowly for the gate's two models, in plain Rust that the
//! compiler vectorises: each loop runs over one contiguous row, with no branch inside.

mod conv3x3;
mod max_pool;

pub use conv3x3::{Activation, Conv3x3};
pub use max_pool::max_pool_2x2;
