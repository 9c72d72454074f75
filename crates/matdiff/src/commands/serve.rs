//! `matdiff serve`: the page and its JSON API on a local HTTP server (see
//! `crate::serve` and docs/serve.md).

use std::io::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::Result;

use crate::report::Failure;
use crate::serve::{self, Config};

/// Arguments of `matdiff serve`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Prints the URL, then serves until Ctrl-C. The page: an expression and its declarations,
the variable to differentiate with respect to, the derivative rendered with its steps,
the numeric check, NumPy/Rust/LaTeX code and a picture; the state is in the URL, so a
link reproduces it. Every file of the page is in the binary: no network is needed.
The JSON API (POST /api/parse, /api/derive, /api/check, /api/plot) is documented in
docs/serve.md.")]
pub struct Args {
    /// The port; 0 lets the system pick a free one (the URL printed names it).
    #[arg(long, default_value_t = 8137)]
    pub port: u16,
    /// The address to listen on. Anything but a loopback address (127.0.0.1, ::1) makes
    /// the page reachable from other machines.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
}

/// Runs `matdiff serve`. The global `--time-limit` is, for a server, the time one
/// request may compute (default [`serve::DEFAULT_TIME_LIMIT`]), not the server's life.
pub fn run(args: Args, time_limit: Option<Duration>) -> Result<()> {
    let time_limit = time_limit.unwrap_or(serve::DEFAULT_TIME_LIMIT);
    if time_limit > Duration::from_secs(3600) {
        return Err(Failure::BadInput(format!(
            "--time-limit {} s: one request may compute at most 3600 s, e.g. 2",
            time_limit.as_secs_f64()
        ))
        .into());
    }
    if serve::reachable_from_elsewhere(args.host) {
        eprintln!(
            "warning: listening on {} — the page and its API are reachable from other machines",
            args.host
        );
    }
    let config = Config {
        host: args.host,
        port: args.port,
        time_limit,
    };
    let open = args.open;
    serve::run(config, |url| {
        println!("matdiff serve: {url}");
        let _ = std::io::stdout().flush();
        if open {
            open_browser(url);
        }
    })
    .map_err(|e| {
        Failure::BadInput(format!(
            "cannot serve on {}:{}: {e} — choose another --port (0 picks a free one)",
            args.host, args.port
        ))
        .into()
    })
}

/// Asks the desktop to open `url`; says so when it cannot.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("cannot open a browser with `{opener}`: {e} — open {url} yourself");
    }
}
