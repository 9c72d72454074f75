//! Rust (faer) code generation.

use crate::codegen::CodegenError;
use crate::derivative::Derivative;
use crate::ir::Function;

/// The Rust source for `f` and its derivative.
pub fn rust(f: &Function, d: &Derivative) -> Result<String, CodegenError> {
    let _ = (f, d);
    Ok(String::new())
}
