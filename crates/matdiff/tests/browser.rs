//! The page of `matdiff serve` in headless Chromium, driven over WebDriver: typing an
//! expression and seeing it typeset, a located error and its fix, the examples menu,
//! a shared link, back and forward, and the contour picture with its descent path. A
//! screenshot of the seminar's linear-regression loss is saved as
//! `target/tmp/serve-page.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; runs with
//! `cargo test -p matdiff --features browser-tests --test browser` (`.ci/run` does).
#![cfg(feature = "browser-tests")]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// chromedriver on a free port, ended when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver does not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1400,1500"]}),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Evaluates a JavaScript expression in the page.
async fn eval(client: &Client, expression: &str) -> Value {
    client
        .execute(&format!("return ({expression});"), vec![])
        .await
        .unwrap_or(Value::Null)
}

/// Waits until `expression` is true in the page, at most `limit`; the time it took.
async fn until(client: &Client, expression: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if eval(client, expression).await == Value::Bool(true) {
            return started.elapsed();
        }
        if started.elapsed() > limit {
            let result = eval(client, "document.getElementById('result').textContent").await;
            let error = eval(client, "document.getElementById('error').textContent").await;
            panic!("not within {limit:?}: {expression}\nresult: {result}\nerror: {error}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The typeset text of the derivative, without spaces.
const RESULT_TEXT: &str =
    "(document.querySelector('#result .katex-html')?.textContent ?? '').replace(/\\s/g, '')";

async fn type_expression(client: &Client, text: &str) {
    let input = client.find(Locator::Css("#expr")).await.expect("#expr");
    input.clear().await.expect("cleared");
    input.send_keys(text).await.expect("typed");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_typesets_explains_and_draws() {
    let server = Server::start(&[]);
    let driver = Driver::start();
    let client = browser(&driver).await;
    let result = run(&client, &server).await;
    let _ = client.close().await;
    result.expect("the page works");
}

async fn run(client: &Client, server: &Server) -> Result<(), fantoccini::error::CmdError> {
    let long = Duration::from_secs(20);
    client
        .goto(&format!("{}?f=sum(sin(t))&wrt=t", server.url))
        .await?;
    until(
        client,
        "window.katex !== undefined && document.querySelector('#result .katex') !== null",
        long,
    )
    .await;

    // Typing `x'*A*x` typesets (A + Aᵀ)x within 2 s.
    type_expression(client, "x'*A*x").await;
    let took = until(client, &format!("{RESULT_TEXT}.includes('(A+A⊤)x')"), long).await;
    assert!(
        took < Duration::from_secs(2),
        "the derivative took {took:?} to appear"
    );
    until(
        client,
        "document.getElementById('check').textContent.includes('check passed')",
        long,
    )
    .await;
    until(
        client,
        "document.querySelector('#derivation .katex') !== null",
        long,
    )
    .await;

    // A syntax error: the located message with its caret, the place marked in the box;
    // fixed, the result comes back.
    type_expression(client, "x'*A*(x").await;
    until(client, "!document.getElementById('error').hidden && document.getElementById('error').textContent.includes('^')", long).await;
    let rendered = eval(client, "document.getElementById('error').textContent").await;
    assert!(
        rendered.as_str().unwrap().contains("<expr>:1:"),
        "{rendered}"
    );
    until(
        client,
        "document.querySelector('#expr-backdrop mark') !== null",
        long,
    )
    .await;
    client
        .find(Locator::Css("#expr"))
        .await?
        .send_keys(")")
        .await?;
    until(
        client,
        &format!("document.getElementById('error').hidden && {RESULT_TEXT}.includes('(A+A⊤)x')"),
        long,
    )
    .await;
    until(
        client,
        "document.querySelector('#expr-backdrop mark') === null",
        long,
    )
    .await;

    // An example from the menu: the seminar's linear regression, its steps and its
    // contour picture with the path of gradient descent.
    let before = eval(client, "location.search").await;
    client
        .find(Locator::Css("#examples"))
        .await?
        .select_by_label("linear regression")
        .await?;
    until(client, &format!("{RESULT_TEXT}.includes('X⊤')"), long).await;
    until(
        client,
        "document.getElementById('expr').value === '1/N*norm2(X*w - y)^2'",
        long,
    )
    .await;
    until(
        client,
        "document.querySelector('#derivation .katex') !== null",
        long,
    )
    .await;
    until(
        client,
        "document.querySelectorAll('#picture svg polyline').length > 5",
        long,
    )
    .await;
    // The run's path: the first run's colour (214, 39, 40).
    until(client, "[...document.querySelectorAll('#picture svg polyline')].some(p => (p.getAttribute('stroke') || '').toUpperCase() === '#D62728')", long).await;
    let lines = eval(
        client,
        "document.getElementById('picture-lines').textContent",
    )
    .await;
    assert!(lines.as_str().unwrap().starts_with("gd η="), "{lines}");
    let shown = eval(client, RESULT_TEXT).await;
    let shared = client.current_url().await?;
    assert!(shared.as_str().contains("wrt=w"), "{shared}");

    // A larger learning rate diverges, and the page says so.
    client.execute("const lr = document.getElementById('lr'); lr.value = '1'; lr.dispatchEvent(new Event('input'));", vec![]).await?;
    until(
        client,
        "document.getElementById('picture-lines').classList.contains('diverged')",
        long,
    )
    .await;
    client.execute("const lr = document.getElementById('lr'); lr.value = '-1'; lr.dispatchEvent(new Event('input'));", vec![]).await?;
    until(client, "!document.getElementById('picture-lines').classList.contains('diverged') && document.getElementById('picture-lines').textContent.startsWith('gd η=0.1')", long).await;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-page.png");
    std::fs::write(&path, client.screenshot().await?).expect("the screenshot is written");

    // Back: the previous state; forward: the example again.
    client.back().await?;
    until(client, &format!("location.search === {before}"), long).await;
    until(client, &format!("{RESULT_TEXT}.includes('(A+A⊤)x')"), long).await;
    client.forward().await?;
    until(client, &format!("{RESULT_TEXT} === {shown}"), long).await;

    // The shared link, opened afresh, shows the same state.
    client.goto("about:blank").await?;
    client.goto(shared.as_str()).await?;
    until(
        client,
        "document.getElementById('expr').value === '1/N*norm2(X*w - y)^2'",
        long,
    )
    .await;
    until(client, "document.getElementById('decls').value === 'X: matrix(N, d)' && document.getElementById('wrt').value === 'w'", long).await;
    until(client, &format!("{RESULT_TEXT} === {shown}"), long).await;
    Ok(())
}
