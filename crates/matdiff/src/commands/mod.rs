//! One module per subcommand: its clap arguments and its `run`.

pub mod demo;
pub mod derive;
pub mod linreg;
pub mod parse;
