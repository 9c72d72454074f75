//! The JSON API of `matdiff serve`, against the built binary on a port the system
//! picks: every endpoint, the errors a client can cause, the body cap, the time limit
//! with a normal request answered next to a slow one, and the page's files.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::{json, Value};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// POSTs `body` to `/api/ENDPOINT`: the status and the JSON answer.
fn post(server: &Server, endpoint: &str, body: &str) -> (u16, Value) {
    let mut response = agent()
        .post(format!("{}api/{endpoint}", server.url))
        .header("Content-Type", "application/json")
        .send(body)
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("a body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{endpoint}: not JSON ({e}): {text}"));
    (status, value)
}

/// GETs `path`: the status, the media type and the body.
fn get(server: &Server, path: &str) -> (u16, String, Vec<u8>) {
    let mut response = agent()
        .get(format!("{}{path}", server.url))
        .call()
        .expect("the server answers");
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(10 << 20)
        .read_to_vec()
        .expect("a body");
    (status, media, bytes)
}

/// A request, the status expected, and values expected at JSON pointers of the
/// answer (a string value ending in `…` is a prefix; `~contains:` a substring).
type Case<'a> = (&'a str, Value, u16, Vec<(&'a str, Value)>);

fn matches(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::String(g), Value::String(w)) if w.starts_with("~contains:") => {
            g.contains(&w["~contains:".len()..])
        }
        (Value::String(g), Value::String(w)) if w.ends_with('…') => {
            g.starts_with(w.trim_end_matches('…'))
        }
        _ => got == want,
    }
}

#[test]
fn every_endpoint_answers_with_the_library_results_and_errors() {
    let server = Server::start(&[]);
    let quadratic = json!({"f": "x'*A*x", "let": "A: matrix(n,n)", "wrt": "x"});
    let regression = json!({"f": "1/N*norm2(X*w - y)^2", "let": "X: matrix(N,d)", "wrt": "w"});
    let cases: Vec<Case> = vec![
        (
            "parse",
            json!({"f": "x'*A*x", "let": "A: matrix(n,n)"}),
            200,
            vec![
                ("/type", json!("scalar")),
                ("/expr", json!("x'*A*x")),
                ("/variables/0/name", json!("A")),
                ("/variables/0/kind", json!("matrix")),
                ("/variables/0/shape", json!(["n", "n"])),
                ("/variables/1/declaration", json!("x: vector(n)")),
            ],
        ),
        (
            "derive",
            quadratic.clone(),
            200,
            vec![
                ("/kind", json!("gradient")),
                ("/result", json!("(A + A')*x")),
                ("/shape", json!(["n", 1])),
                ("/steps/0/expr", json!("d(x'*A*x)")),
                ("/variable", json!("x: vector(n)")),
                ("/derivation", json!("\\begin{align}…")),
                ("/numpy", json!("~contains:import numpy as np")),
                ("/rust", json!("~contains:pub fn")),
                ("/code_error", Value::Null),
            ],
        ),
        (
            "derive",
            json!({"f": "x'*A*x", "let": "A: matrix(n,n)", "wrt": "x", "order": 2, "steps": false}),
            200,
            vec![
                ("/kind", json!("hessian")),
                ("/result", json!("A + A'")),
                ("/steps", json!([])),
            ],
        ),
        (
            "derive",
            json!({"f": "inv(X)", "let": "X: matrix(n,n)", "wrt": "X"}),
            200,
            vec![("/kind", json!("differential"))],
        ),
        (
            "check",
            quadratic.clone(),
            200,
            vec![
                ("/passed", json!(true)),
                ("/kind", json!("gradient")),
                ("/wrt", json!("x")),
            ],
        ),
        (
            "check",
            json!({"f": "log(det(X))", "let": "X: spd(n)", "wrt": "X", "order": 1}),
            200,
            vec![("/passed", json!(true))],
        ),
        (
            "plot",
            regression.clone(),
            200,
            vec![
                ("/kind", json!("contour")),
                ("/svg", json!("<svg…")),
                ("/diverged", json!(false)),
                ("/lines/0", json!("gd η=0.1…")),
            ],
        ),
        (
            "plot",
            json!({"f": "1/N*norm2(X*w - y)^2", "let": "X: matrix(N,d)", "wrt": "w", "lr": 100.0}),
            200,
            vec![("/diverged", json!(true))],
        ),
        (
            "plot",
            json!({"f": "sin(t) + t^2", "let": "t: scalar", "wrt": "t", "at": 0.5, "h": 0.25}),
            200,
            vec![("/kind", json!("tangent")), ("/svg", json!("<svg…"))],
        ),
        (
            "plot",
            json!({"f": "x'*A*x", "let": "A: matrix(n,n); x: vector(n)", "wrt": "A", "coords": [0, 3]}),
            200,
            vec![("/kind", json!("contour"))],
        ),
        // Errors the library finds: located, with their places.
        (
            "derive",
            json!({"f": "x'*A*(x", "wrt": "x"}),
            422,
            vec![
                ("/error/kind", json!("syntax")),
                ("/error/places/0/source", json!("<expr>")),
                ("/error/places/0/primary", json!(true)),
                ("/error/rendered", json!("~contains:^")),
            ],
        ),
        (
            "parse",
            json!({"f": "X*w", "let": "X: matrix(N, d); w: vector(N)"}),
            422,
            vec![
                ("/error/kind", json!("shape")),
                ("/error/rendered", json!("~contains:<decls>")),
            ],
        ),
        (
            "derive",
            json!({"f": "x'*x", "wrt": "y"}),
            422,
            vec![
                ("/error/kind", json!("unknown_variable")),
                ("/error/message", json!("~contains:`x`")),
                ("/error/places", json!([])),
            ],
        ),
        (
            "derive",
            json!({"f": "x'*x", "wrt": "x", "order": 3}),
            422,
            vec![("/error/kind", json!("invalid_option"))],
        ),
        (
            "plot",
            json!({"f": "A*x", "wrt": "x"}),
            422,
            vec![("/error/message", json!("~contains:scalar"))],
        ),
        (
            "plot",
            json!({"f": "x'*x", "wrt": "x", "lr": -1.0}),
            422,
            vec![("/error/kind", json!("invalid_option"))],
        ),
        // Requests that are not the endpoint's JSON.
        (
            "derive",
            json!({"f": "x'*x"}),
            400,
            vec![
                ("/error/kind", json!("bad_request")),
                ("/error/message", json!("~contains:wrt")),
            ],
        ),
        (
            "derive",
            json!({"f": "x'*x", "wrt": "x", "ordre": 2}),
            400,
            vec![("/error/message", json!("~contains:ordre"))],
        ),
        (
            "nothing",
            json!({}),
            404,
            vec![("/error/kind", json!("not_found"))],
        ),
    ];
    for (endpoint, request, status, expected) in cases {
        let (got_status, answer) = post(&server, endpoint, &request.to_string());
        assert_eq!(got_status, status, "{endpoint} {request}: {answer}");
        for (pointer, want) in expected {
            let got = answer.pointer(pointer).unwrap_or(&Value::Null);
            assert!(
                matches(got, &want),
                "{endpoint} {request}: {pointer} is {got}, expected {want}"
            );
        }
    }
}

/// The derivative the API sends is the library's, and its numbers agree with finite
/// differences: the check endpoint's errors are small, and a wrong derivative (the
/// library's own check of a typed-in wrong answer) is told apart.
#[test]
fn the_check_reports_its_numbers() {
    let server = Server::start(&[]);
    let request = json!({"f": "1/2*logdet(S) + 1/2*(x - mu)'*inv(S)*(x - mu)", "let": "S: spd(n); mu: vector(n)", "wrt": "S"});
    let (status, check) = post(&server, "check", &request.to_string());
    assert_eq!(status, 200, "{check}");
    let errors = check["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 5);
    for e in errors {
        assert!(e.as_f64().unwrap() < 1e-6, "{check}");
    }
    let (_, derivative) = post(&server, "derive", &request.to_string());
    let facade = matdiff::Function::parse(
        "1/2*logdet(S) + 1/2*(x - mu)'*inv(S)*(x - mu)",
        "S: spd(n); mu: vector(n)",
    )
    .unwrap()
    .gradient("S")
    .unwrap();
    assert_eq!(derivative["result"], json!(facade.to_string()));
}

#[test]
fn bodies_that_are_not_json_or_too_large_are_refused() {
    let server = Server::start(&[]);
    let (status, answer) = post(&server, "derive", "{\"f\": ");
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["kind"], json!("bad_request"));

    let long = format!(
        "{{\"f\": \"{}\", \"wrt\": \"x\"}}",
        "x + ".repeat(20_000) + "x"
    );
    assert!(long.len() > 64 * 1024);
    let (status, answer) = post(&server, "derive", &long);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["kind"], json!("body_too_large"));

    // Just under the cap is read (and parsed by the library).
    let fits = format!(
        "{{\"f\": \"{}\", \"wrt\": \"x\"}}",
        "x + ".repeat(4_000) + "x"
    );
    let (status, answer) = post(&server, "derive", &fits);
    assert_eq!(status, 200, "{answer}");
}

/// The longest chain and the deepest nesting the parser takes are computed on the
/// server's threads as on the command line's main thread: answered, not a stack
/// overflow that would end the process.
#[test]
fn the_deepest_expressions_the_language_allows_are_answered() {
    let server = Server::start(&[]);
    let cases = [
        ("x + ".repeat(4_095) + "x", "4096*eye(n)"),
        (format!("{}x'*x{}", "(".repeat(250), ")".repeat(250)), "2*x"),
        (
            format!("sum({}x{})", "exp(".repeat(200), ")".repeat(200)),
            "",
        ),
    ];
    for (f, result) in cases {
        let (status, answer) = post(
            &server,
            "derive",
            &json!({"f": f, "wrt": "x", "steps": false}).to_string(),
        );
        assert_eq!(status, 200, "{}", answer["error"]["message"]);
        if !result.is_empty() {
            assert_eq!(answer["result"], json!(result));
        }
    }
    let (status, _) = post(&server, "parse", &json!({"f": "x'*x"}).to_string());
    assert_eq!(status, 200);
}

/// A derivative that takes far longer than the limit is answered with 503 once the
/// limit has passed, while requests sent next to it are answered at once.
#[test]
fn a_slow_request_hits_the_time_limit_and_others_are_answered_meanwhile() {
    let server = Server::start(&["--time-limit", "1"]);
    // Checking at a declared size inverts 1000 × 1000 matrices on every trial: seconds
    // of honest work (no input is exponential any more), with a short answer.
    let slow = json!({"f": "tr(inv(X))", "let": "X: matrix(1000,1000)", "wrt": "X"});
    let started = Instant::now();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| post(&server, "check", &slow.to_string()));
        std::thread::sleep(Duration::from_millis(200));
        for _ in 0..3 {
            let sent = Instant::now();
            let (status, answer) = post(
                &server,
                "derive",
                &json!({"f": "x'*A*x", "wrt": "x"}).to_string(),
            );
            assert_eq!(status, 200, "{answer}");
            assert!(
                sent.elapsed() < Duration::from_millis(900),
                "a normal request took {:?} next to a slow one",
                sent.elapsed()
            );
        }
        let (status, answer) = slow.join().unwrap();
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"]["kind"], json!("time_limit"));
    });
    assert!(started.elapsed() < Duration::from_secs(10));
    // The server goes on answering.
    let (status, _) = post(&server, "parse", &json!({"f": "x'*x"}).to_string());
    assert_eq!(status, 200);
}

/// `tr(inv(X + inv(X + … inv(X + X)…)))`, 24 deep: its second differential takes
/// seconds to derive and simplify (about 5 s at 20 deep in a test build), within the
/// node budget, so without the time limit it would be answered, late.
#[test]
fn requests_are_served_in_parallel() {
    let server = Server::start(&[]);
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|k| {
                let server = &server;
                scope.spawn(move || {
                    let f = format!("x'*A*x + {k}*b'*x");
                    post(server, "derive", &json!({"f": f, "wrt": "x"}).to_string()).0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers, vec![200; 8]);
}

#[test]
fn the_page_and_katex_are_served_from_the_binary() {
    let server = Server::start(&[]);
    let cases = [
        ("", 200, "text/html", "<title>matdiff"),
        ("app.js", 200, "text/javascript", "/api/"),
        ("style.css", 200, "text/css", ".marked"),
        ("katex/katex.min.js", 200, "text/javascript", "katex"),
        (
            "katex/katex.min.css",
            200,
            "text/css",
            "KaTeX_Main-Regular.woff2",
        ),
        ("katex/LICENSE", 200, "text/plain", "MIT"),
        (
            "katex/fonts/KaTeX_Main-Regular.woff2",
            200,
            "font/woff2",
            "wOF2",
        ),
        ("no/such/file", 404, "", ""),
    ];
    for (path, status, media, needle) in cases {
        let (got, got_media, body) = get(&server, path);
        assert_eq!(got, status, "{path}");
        assert!(got_media.starts_with(media), "{path}: {got_media}");
        assert!(
            String::from_utf8_lossy(&body).contains(needle),
            "{path} lacks {needle}"
        );
    }
}

#[test]
fn options_that_no_server_can_honour_are_refused() {
    let cases: [&[&str]; 3] = [
        &["serve", "--time-limit", "0"],
        &["serve", "--time-limit", "nan"],
        &["serve", "--port", "70000"],
    ];
    for args in cases {
        let (code, _, stderr) = common::matdiff(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(args[1]), "{args:?}: {stderr}");
    }
}
