//! `matdiff serve`: the library in a browser. A local HTTP server with one page (its
//! HTML, CSS, JavaScript and KaTeX compiled into the binary, [`assets`]) and a JSON
//! API ([`api`]) that the page uses and nothing else: `POST /api/parse`,
//! `/api/derive`, `/api/check` and `/api/plot`.
//!
//! Every request body is capped at [`BODY_LIMIT`] bytes (a larger one is refused,
//! read to [`DRAIN_LIMIT`] at most); every computation runs on
//! the blocking pool under a time limit, so that one slow request never holds up
//! another, and a panic in it is answered with a 500 error instead of ending the
//! server. Nothing is written to disk.

pub mod api;
pub mod assets;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

/// The largest request body accepted: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How much of a larger body is read (and dropped) before it is refused, so that an
/// ordinary client that sends it whole reads the refusal instead of a closed
/// connection; past this the connection is closed.
pub const DRAIN_LIMIT: usize = 1024 * 1024;

/// The time a request may take when none is given: 2 s.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(2);

/// The stack of every thread that computes a request. The parser and the symbolic
/// walks recurse as deep as the expression nests (within the limits of
/// docs/limits.md); the command line runs them on the main thread's 8 MiB, and a thread
/// of the runtime's default 2 MiB would overflow — which aborts the process. Only the
/// pages a request touches are committed.
const STACK_SIZE: usize = 64 * 1024 * 1024;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address to listen on.
    pub host: IpAddr,
    /// The port; 0 for one the system picks.
    pub port: u16,
    /// The most time one request may compute.
    pub time_limit: Duration,
}

/// The routes: the page's assets and the API.
pub fn router(config: &Config) -> Router {
    let limits = api::Limits {
        time: config.time_limit,
    };
    Router::new()
        .route("/api/parse", post(api::parse))
        .route("/api/derive", post(api::derive))
        .route("/api/check", post(api::check))
        .route("/api/plot", post(api::plot))
        .route("/api/{*rest}", get(api::not_found).post(api::not_found))
        .with_state(limits)
        .layer(DefaultBodyLimit::max(DRAIN_LIMIT))
        .route("/", get(assets::index))
        .route("/{*path}", get(assets::asset))
}

/// Whether a client on another machine can reach `host`.
pub fn reachable_from_elsewhere(host: IpAddr) -> bool {
    !host.is_loopback()
}

/// Binds the address, calls `ready` with the URL the server answers on (the real
/// port when 0 was asked for), and serves until Ctrl-C.
pub fn run(config: Config, ready: impl FnOnce(&str)) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_SIZE)
        .build()?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::new(config.host, config.port)).await?;
        let address = listener.local_addr()?;
        ready(&url(address));
        axum::serve(listener, router(&config))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })
}

/// `http://host:port/`, with the loopback name for an unspecified address (the page
/// is reachable there too) and brackets around IPv6.
fn url(address: SocketAddr) -> String {
    let ip = address.ip();
    let host = if ip.is_unspecified() {
        "127.0.0.1".to_owned()
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("http://{host}:{}/", address.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_reachable_host() {
        let cases = [
            ("127.0.0.1:8137", "http://127.0.0.1:8137/"),
            ("0.0.0.0:80", "http://127.0.0.1:80/"),
            ("[::1]:9000", "http://[::1]:9000/"),
        ];
        for (address, expected) in cases {
            assert_eq!(url(address.parse().unwrap()), expected, "{address}");
        }
        assert!(reachable_from_elsewhere("0.0.0.0".parse().unwrap()));
        assert!(!reachable_from_elsewhere("127.0.0.1".parse().unwrap()));
    }
}
