//! One module per subcommand: its clap arguments and its `run`; `ranks` is the MPI
//! side that `linreg` and `minimize` share under `--distributed`.

pub mod bench;
pub mod check;
pub mod demo;
pub mod derive;
pub mod eval;
pub mod linreg;
pub mod minimize;
pub mod parse;
pub mod plot;
pub mod predict;
pub mod ranks;
pub mod serve;
pub mod solve;
