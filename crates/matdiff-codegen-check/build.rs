//! Generates the Rust code of every case in `cases.rs` into `OUT_DIR`, with the
//! generator of matdiff-core, for `src/lib.rs` to include.

use std::path::PathBuf;

include!("cases.rs");

fn main() {
    println!("cargo::rerun-if-changed=cases.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (module, expr, decls, wrt, order) in CASES {
        let mut f = matdiff_core::parse_function(expr, decls)
            .unwrap_or_else(|e| panic!("`{expr}` does not parse: {e:?}"));
        let d = matdiff_core::derive(&mut f, wrt, *order)
            .unwrap_or_else(|e| panic!("`{expr}` cannot be derived: {e}"));
        let code = matdiff_core::codegen::rust(&f, &d)
            .unwrap_or_else(|e| panic!("no code for `{expr}`: {e}"));
        std::fs::write(out.join(format!("{module}.rs")), code)
            .unwrap_or_else(|e| panic!("cannot write the code of `{expr}`: {e}"));
    }
}
