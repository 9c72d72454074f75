//! `matdiff parse`: to be written.

/// Arguments of `matdiff parse`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, or `@file` with declarations and the expression.
    pub expr: String,
}

/// Runs `matdiff parse`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    Ok(())
}
