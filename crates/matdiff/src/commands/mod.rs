//! One module per subcommand: its clap arguments and its `run`.

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
pub mod serve;
pub mod solve;
