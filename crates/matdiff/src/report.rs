//! Turning failures into messages on stderr and exit codes: 0 ok, 1 a check or fit
//! failed, 2 bad input. The library renders located messages with carets
//! ([`matdiff::Error::render`]).

use std::fmt;
use std::process::ExitCode;

/// A failure with its exit code. Any other error reaching `main` counts as bad input.
#[derive(Debug)]
pub enum Failure {
    /// Bad input (syntax, shapes, data): exit 2.
    BadInput(String),
    /// A check or fit failed: exit 1.
    Failed(String),
    /// Already reported on stderr (diagnostics with carets): exit with this code.
    Reported(u8),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput(m) | Failure::Failed(m) => f.write_str(m),
            Failure::Reported(code) => write!(f, "failed with exit code {code}"),
        }
    }
}

impl std::error::Error for Failure {}

/// The output format a command prints in: `json` when `--json` is given, else the
/// `--format` asked for, else `pretty` on a terminal and `text` in a pipe or a file.
pub fn chosen_format<F>(json_flag: bool, asked: Option<F>, json: F, pretty: F, text: F) -> F {
    use std::io::IsTerminal as _;
    if json_flag {
        json
    } else if let Some(format) = asked {
        format
    } else if std::io::stdout().is_terminal() {
        pretty
    } else {
        text
    }
}

/// The flag of a library option: `tol_grad` is `--tol-grad`. The library names its
/// options; only the command line speaks of flags.
pub fn flag(option: &str) -> String {
    format!("--{}", option.replace('_', "-"))
}

/// A number as people read it: as it is between 1e-4 and 1e6, else in a short
/// scientific form with three significant digits (`6.48e-11`, `3.2e7`).
pub fn short(x: f64) -> String {
    if !x.is_finite() || x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        return format!("{x}");
    }
    let text = format!("{x:.2e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exponent}")
        }
        _ => text,
    }
}

/// A finite number as JSON, `null` otherwise (JSON has no infinity).
pub fn number(value: f64) -> serde_json::Value {
    serde_json::Number::from_f64(value).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// The rule that stopped a run, in the command line's words: the flag that set its
/// tolerance or limit.
pub fn stopped(stop: matdiff::StopReason, variable: &str) -> String {
    use matdiff::StopReason as S;
    let v = variable;
    match stop {
        S::StepSize => format!("the step ‖{v}_new − {v}_old‖ fell below --tol-step"),
        S::LossChange => "the loss change |f_new − f_old| fell below --tol-loss".to_owned(),
        S::GradientNorm => format!("the gradient norm ‖∇f({v})‖ fell below --tol-grad"),
        S::MaxIterations => "reached the iteration limit --max-iter".to_owned(),
        S::MaxEpochs => "reached the epoch limit --epochs".to_owned(),
        S::NoImprovement | S::LineSearchFailed => stop.description().to_owned(),
    }
}

/// Parses a duration: seconds (`90`, `2.5`, `30s`), minutes (`5m`) or hours (`1h`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, scale) = match t.char_indices().last() {
        Some((at, 's')) => (&t[..at], 1.0),
        Some((at, 'm')) => (&t[..at], 60.0),
        Some((at, 'h')) => (&t[..at], 3600.0),
        _ => (t, 1.0),
    };
    let seconds = number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .ok_or_else(|| {
            format!(
                "`{text}` is not a duration — write seconds (90, 30s), minutes (5m) or hours (1h)"
            )
        })?;
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Ends the whole process with exit 2 once `limit` has passed (`--time-limit`),
/// whatever it is doing then: the computations cannot be interrupted where they
/// stand, so the process is.
pub fn stop_after(limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!(
            "error: stopped at the time limit of {} s (--time-limit) before the command finished",
            short(limit.as_secs_f64())
        );
        std::process::exit(2);
    });
}

/// Makes a write to a closed stdout (`matdiff … | head`) end the program quietly with
/// exit 0, as a reader that stops reading asks, instead of a panic: `print!` panics
/// on a broken pipe, and this hook turns that one panic into a quiet exit.
pub fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_pipe_message(message) {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Whether a panic message is the standard library's for a write to a closed pipe.
fn is_closed_pipe_message(message: &str) -> bool {
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

/// Whether the error comes from writing to a closed pipe.
fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints the error (unless already reported) and picks the exit code.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    if is_closed_pipe(error) {
        return ExitCode::SUCCESS;
    }
    match error.downcast_ref::<Failure>() {
        Some(Failure::Reported(code)) => ExitCode::from(*code),
        Some(Failure::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Some(Failure::BadInput(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
