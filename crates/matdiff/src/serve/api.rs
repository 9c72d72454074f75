//! The JSON API: one handler per endpoint, each a thin shell over the library. A
//! request is read as JSON, the work runs on the blocking pool under the time limit,
//! and the answer is the library's report (the keys of `matdiff derive --format json`
//! for a derivative) or an error object:
//!
//! ```json
//! {"error": {"kind": "syntax", "message": "<expr>:1:6: …", "rendered": "error: …\n  ┌─ <expr>:1:6\n…",
//!            "places": [{"source": "<expr>", "start": 5, "end": 7, "line": 1, "column": 6, "primary": true, "message": "…"}]}}
//! ```
//!
//! Statuses: 200 with a result; 400 for a body that is not the request's JSON; 404
//! for an unknown endpoint; 413 for a body over the limit; 422 for input the library
//! refuses (syntax, shapes, an unknown variable, a domain error); 500 for a failure of
//! the server itself (a panic); 503 when the time limit passed. The documentation of
//! every request and answer is `docs/serve.md`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use matdiff::Function;

use crate::commands::plot::{sketch, SketchRequest};

/// The limits every request runs under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most time one request may compute.
    pub time: Duration,
}

/// A failed request: its status and the error object.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: Value,
}

impl Failure {
    /// An error without a place in the sources.
    fn plain(status: StatusCode, kind: &str, message: impl Into<String>) -> Failure {
        let message = message.into();
        Failure {
            status,
            body: json!({"error": {
                "kind": kind,
                "message": message,
                "rendered": format!("error: {message}\n"),
                "places": [],
            }}),
        }
    }
}

impl From<matdiff::Error> for Failure {
    /// The library's error, with the located message and its places: input the
    /// library refuses (422), or a size past the limits (413 is for bodies; this is
    /// still 422: the request is well-formed, the function too large).
    fn from(error: matdiff::Error) -> Failure {
        Failure {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({"error": {
                "kind": error.category(),
                "message": error.to_string(),
                "rendered": error.render(),
                "places": error.places(),
            }}),
        }
    }
}

impl From<anyhow::Error> for Failure {
    /// A refusal of the picture code shared with `matdiff plot`.
    fn from(error: anyhow::Error) -> Failure {
        Failure::plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            error.to_string(),
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type Answer = Result<Json<Value>, Failure>;

/// Reads the body as the request's JSON: a body over the limit is 413, anything that is
/// not the request's JSON is 400 with serde's reason.
fn read<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, Failure> {
    let too_large = || {
        Failure::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is larger than {} bytes — send a shorter expression",
                super::BODY_LIMIT
            ),
        )
    };
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            Failure::plain(rejection.status(), "bad_request", rejection.body_text())
        }
    })?;
    if bytes.len() > super::BODY_LIMIT {
        return Err(too_large());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure::plain(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the request is not the JSON this endpoint reads: {e}"),
        )
    })
}

/// Runs `work` on the blocking pool under the time limit. Past the limit the request
/// is answered with 503 at once; the computation is bounded by the library's node and
/// memory budgets and ends by itself, its result dropped. A panic is answered with 500.
async fn compute(
    limits: Limits,
    work: impl FnOnce() -> Result<Value, Failure> + Send + 'static,
) -> Answer {
    let task = tokio::task::spawn_blocking(work);
    match tokio::time::timeout(limits.time, task).await {
        Ok(Ok(result)) => result.map(Json),
        Ok(Err(join)) => {
            let reason = if join.is_panic() {
                "the server failed on this request (a bug: please report the expression)"
            } else {
                "the request was cancelled"
            };
            Err(Failure::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                reason,
            ))
        }
        Err(_) => Err(Failure::plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "time_limit",
            format!(
                "the request took longer than the time limit of {} s — try a smaller expression or a lower order",
                limits.time.as_secs_f64()
            ),
        )),
    }
}

/// A function as the page sends it: the expression and the declarations.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// The expression, ASCII or Unicode.
    pub f: String,
    /// Declarations, separated by `;`, `,` or new lines.
    #[serde(rename = "let", default)]
    pub decls: String,
}

/// A derivative asked for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveRequest {
    /// The expression.
    pub f: String,
    /// The declarations.
    #[serde(rename = "let", default)]
    pub decls: String,
    /// The variable.
    pub wrt: String,
    /// 1 or 2.
    #[serde(default = "first_order")]
    pub order: u8,
    /// Whether the derivation steps are sent.
    #[serde(default = "yes")]
    pub steps: bool,
}

/// A picture asked for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotRequest {
    /// The expression (a scalar).
    pub f: String,
    /// The declarations.
    #[serde(rename = "let", default)]
    pub decls: String,
    /// The variable drawn over.
    pub wrt: String,
    /// Two coordinates of a variable with more than two.
    #[serde(default)]
    pub coords: Option<[usize; 2]>,
    /// The point of tangency of a scalar variable.
    #[serde(default)]
    pub at: Option<f64>,
    /// The increment of the tangent picture.
    #[serde(default)]
    pub h: Option<f64>,
    /// The learning rate of the gradient-descent run.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// The seed of the random values of the other variables.
    #[serde(default)]
    pub seed: u64,
}

fn first_order() -> u8 {
    1
}

fn yes() -> bool {
    true
}

fn default_lr() -> f64 {
    0.1
}

/// The size of the pictures sent to the page, in pixels.
const PICTURE_SIZE: (u32, u32) = (760, 600);

fn function(f: &str, decls: &str) -> Result<Function, Failure> {
    Ok(Function::parse(f, decls)?)
}

fn order(order: u8) -> Result<u8, Failure> {
    if matches!(order, 1 | 2) {
        Ok(order)
    } else {
        Err(Failure::plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_option",
            format!("order {order}: use 1 for the gradient, Jacobian or differential, 2 for the Hessian"),
        ))
    }
}

/// `POST /api/parse`: the expression's normal form, its type and shape, and the
/// variables with their kinds and shapes.
pub async fn parse(State(limits): State<Limits>, body: Result<Bytes, BytesRejection>) -> Answer {
    let request: ParseRequest = read(body)?;
    compute(limits, move || {
        let f = function(&request.f, &request.decls)?;
        let summary = f.summary();
        let variables: Vec<Value> = f
            .variables()
            .into_iter()
            .map(|v| {
                json!({"name": v.name, "kind": v.kind, "shape": v.shape, "declaration": v.declaration})
            })
            .collect();
        Ok(json!({
            "expr": summary.expr,
            "pretty": f.pretty(),
            "latex": f.latex(),
            "type": summary.type_,
            "shape": summary.shape,
            "dims": summary.dims,
            "variables": variables,
        }))
    })
    .await
}

/// `POST /api/derive`: the derivative with the keys of `matdiff derive --format json`
/// (`kind`, `result`, `latex`, `shape`, `steps`), and `pretty`, `derivation` (the LaTeX
/// `align` block), `numpy` and `rust` (null with `code_error` when no code can be
/// generated), `function` (the expression in LaTeX) and `variable` (its declaration).
pub async fn derive(State(limits): State<Limits>, body: Result<Bytes, BytesRejection>) -> Answer {
    let request: DeriveRequest = read(body)?;
    compute(limits, move || {
        let f = function(&request.f, &request.decls)?;
        let order = order(request.order)?;
        let derivative = f.derivative(&request.wrt, order)?;
        let derivative = if request.steps {
            derivative
        } else {
            derivative.without_steps()
        };
        let mut answer = serde_json::to_value(derivative.report()).unwrap_or_default();
        let (numpy, rust) = (derivative.to_numpy(), derivative.to_rust());
        let code_error = numpy
            .as_ref()
            .err()
            .or(rust.as_ref().err())
            .map(ToString::to_string);
        let variable = f
            .variables()
            .into_iter()
            .find(|v| v.name == request.wrt)
            .map(|v| v.declaration);
        if let Value::Object(map) = &mut answer {
            map.insert("pretty".into(), derivative.pretty().into());
            map.insert("derivation".into(), derivative.latex_derivation().into());
            map.insert("numpy".into(), numpy.ok().into());
            map.insert("rust".into(), rust.ok().into());
            map.insert("code_error".into(), code_error.into());
            map.insert("function".into(), f.latex().into());
            map.insert("variable".into(), variable.into());
        }
        Ok(answer)
    })
    .await
}

/// `POST /api/check`: the finite-difference check of the derivative of `order` (keys
/// `kind`, `wrt`, `passed`, `errors`, `floors`, `trials_passed`, `tol`, `sizes`).
pub async fn check(State(limits): State<Limits>, body: Result<Bytes, BytesRejection>) -> Answer {
    let request: DeriveRequest = read(body)?;
    compute(limits, move || {
        let f = function(&request.f, &request.decls)?;
        let order = order(request.order)?;
        let check = f.derivative(&request.wrt, order)?.check()?;
        Ok(serde_json::to_value(check).unwrap_or_default())
    })
    .await
}

/// `POST /api/plot`: the picture of `matdiff plot` on random values of the other
/// variables (`kind` `tangent` or `contour`, `svg`, `lines`, `diverged`).
pub async fn plot(State(limits): State<Limits>, body: Result<Bytes, BytesRejection>) -> Answer {
    let request: PlotRequest = read(body)?;
    compute(limits, move || {
        let f = function(&request.f, &request.decls)?;
        if !(request.lr.is_finite() && request.lr > 0.0) {
            return Err(Failure::plain(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_option",
                format!("learning rate {}: give a positive number", request.lr),
            ));
        }
        if let Some(h) = request.h.filter(|h| !(h.is_finite() && *h != 0.0)) {
            return Err(Failure::plain(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_option",
                format!("h {h}: give a non-zero number, e.g. 0.5"),
            ));
        }
        // An unknown variable is named with the variables there are.
        f.derivative(&request.wrt, 1)?;
        let picture = sketch(SketchRequest {
            function: f,
            wrt: &request.wrt,
            coords: request.coords,
            x0: request.at,
            h: request.h,
            lr: request.lr,
            seed: request.seed,
            size: PICTURE_SIZE,
        })?;
        Ok(json!({
            "kind": picture.kind,
            "svg": picture.svg,
            "lines": picture.lines,
            "diverged": picture.diverged,
        }))
    })
    .await
}

/// Any other path under `/api/`.
pub async fn not_found() -> Failure {
    Failure::plain(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint — use POST /api/parse, /api/derive, /api/check or /api/plot",
    )
}
