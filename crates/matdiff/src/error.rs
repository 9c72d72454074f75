//! One error type for the whole library: [`Error`], with variants that classify what
//! went wrong, a one-line [`Display`](std::fmt::Display), and
//! [`Error::render`] for the located, caret-drawn message.

use std::fmt;
use std::sync::Arc;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label as CsLabel};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};
use matdiff_syntax::{Diagnostic, Severity};

/// Everything that can go wrong, classified.
///
/// `Display` gives one line; [`Error::render`] the full message with the source
/// lines and carets, as the command line prints it.
///
/// ```
/// use matdiff::{Error, Function};
///
/// let error = Function::parse("determinant(X)", "X: matrix(n,n)").unwrap_err();
/// assert!(matches!(error, Error::Syntax(_)));
/// assert_eq!(error.to_string(), "<expr>:1:1: unknown function `determinant`");
/// assert!(error.render().contains("^^^^^^^^^^^"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The text does not parse.
    Syntax(Located),
    /// Kinds or shapes do not fit: in the expression and its declarations, or between
    /// the declarations and the values given.
    Shape(Located),
    /// A name that is not a variable of the function.
    UnknownVariable {
        /// The name given.
        name: String,
        /// The function's variables, in declaration order.
        known: Vec<String>,
        /// Whether the name is a dimension of the function.
        is_dimension: bool,
    },
    /// A value outside a function's domain (`log` of a negative entry, `inv` of a
    /// singular matrix), or a result that is not finite.
    Domain(String),
    /// An iterative fit diverged.
    Divergence(String),
    /// A data file is malformed (a ragged row, a non-numeric cell, an unsupported
    /// `.npy` type).
    DataFile(String),
    /// A file could not be read or written.
    Io(String),
    /// The sizes asked for exceed what can be held in memory.
    TooLarge(String),
    /// `∇f = 0` has no closed form: the gradient is not affine in the variable, or
    /// the linear map is not a plain matrix product. Located at the first
    /// subexpression that is not quadratic, where one is known.
    NoClosedForm(Located),
    /// A derivative the rules do not take (a power whose exponent depends on the
    /// variable, a matrix power outside the stated limit), located in the expression.
    Unsupported(Located),
    /// An option with a value that would make the request vacuous or meaningless
    /// (`trials` of 0, a tolerance that is not a positive number), by its library name.
    InvalidOption {
        /// The option's name in the library (`trials`, `tol`, `fixed`).
        option: &'static str,
        /// What is wrong and what to give instead.
        reason: String,
    },
    /// An option or a request that does not fit (a learning rate of zero, a second
    /// derivative of a vector function, code for a linear map).
    Invalid(String),
}

/// A place in a source text that an error points at, for marking it in an editor or a
/// web page: the source's name (`<expr>`, `<decls>`, a path), the range in characters,
/// and the label's message.
///
/// ```
/// let error = matdiff::Function::parse("x'*A*(x", "").unwrap_err();
/// let place = &error.places()[0];
/// assert_eq!((place.source.as_str(), place.primary), ("<expr>", true));
/// assert!(place.start <= place.end && place.end <= "x'*A*(x".chars().count());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    /// The name of the source text, as in the rendered message.
    pub source: String,
    /// The first character marked, counting Unicode scalar values from 0.
    pub start: usize,
    /// One past the last character marked (equal to `start` for a point).
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column of `start`, in characters.
    pub column: usize,
    /// Whether this is the place of the error itself (`^^^`) rather than a related
    /// one (`---`).
    pub primary: bool,
    /// What the label says there (may be empty).
    pub message: String,
}

/// Diagnostics with the source texts they point into.
#[derive(Clone, Debug)]
pub struct Located {
    diagnostics: Vec<Diagnostic>,
    sources: Arc<Vec<(String, String)>>,
}

impl Located {
    pub(crate) fn new(diagnostics: Vec<Diagnostic>, sources: Arc<Vec<(String, String)>>) -> Self {
        Located {
            diagnostics,
            sources,
        }
    }

    /// A message without a place in a source.
    pub(crate) fn plain(message: impl Into<String>) -> Self {
        Located {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                message: message.into(),
                labels: Vec::new(),
                notes: Vec::new(),
            }],
            sources: Arc::new(Vec::new()),
        }
    }

    /// The messages, one per diagnostic.
    ///
    /// ```
    /// let error = matdiff::Function::parse("x +", "").unwrap_err();
    /// let matdiff::Error::Syntax(located) = error else { unreachable!() };
    /// assert_eq!(located.messages().len(), 1);
    /// ```
    pub fn messages(&self) -> Vec<&str> {
        self.diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect()
    }

    /// Every labelled place of every diagnostic, primary places first within each.
    fn places(&self) -> Vec<Place> {
        let mut places = Vec::new();
        for d in &self.diagnostics {
            let mut labels: Vec<_> = d.labels.iter().collect();
            labels.sort_by_key(|l| !l.primary);
            for label in labels {
                let Some((name, text)) = self.sources.get(label.span.source.0 as usize) else {
                    continue;
                };
                let chars_to = |byte: usize| {
                    let byte = floor_char_boundary(text, byte.min(text.len()));
                    text[..byte].chars().count()
                };
                let range = label.span.range();
                let start = chars_to(range.start);
                let before = &text[..floor_char_boundary(text, range.start.min(text.len()))];
                places.push(Place {
                    source: name.clone(),
                    start,
                    end: chars_to(range.end).max(start),
                    line: before.matches('\n').count() + 1,
                    column: before.chars().rev().take_while(|&c| c != '\n').count() + 1,
                    primary: label.primary,
                    message: label.message.clone(),
                });
            }
        }
        places
    }

    /// `source:line:column: message` of the first diagnostic.
    fn headline(&self) -> String {
        let Some(first) = self.diagnostics.first() else {
            return String::new();
        };
        let place = first.primary_span().and_then(|span| {
            let (name, text) = self.sources.get(span.source.0 as usize)?;
            let start = (span.start as usize).min(text.len());
            let before = text.get(..start)?;
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
            Some(format!("{name}:{line}:{column}: "))
        });
        format!("{}{}", place.unwrap_or_default(), first.message)
    }

    fn render(&self) -> String {
        let mut buffer = termcolor::NoColor::new(Vec::new());
        self.write(&mut buffer);
        String::from_utf8_lossy(&buffer.into_inner()).into_owned()
    }

    fn write(&self, writer: &mut dyn termcolor::WriteColor) {
        let mut files = SimpleFiles::new();
        for (name, text) in self.sources.iter() {
            files.add(name.clone(), text.clone());
        }
        let config = term::Config::default();
        for d in &self.diagnostics {
            let cs = to_codespan(d);
            // A span outside its source would be a bug; fall back to plain text.
            if term::emit_to_write_style(writer, &config, &files, &cs).is_err() {
                let _ = writeln!(
                    writer,
                    "{}",
                    matdiff_syntax::diagnostic::render_plain(std::slice::from_ref(d))
                );
            }
        }
    }
}

fn to_codespan(d: &Diagnostic) -> CsDiagnostic<usize> {
    let base = match d.severity {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
    };
    base.with_message(d.message.clone())
        .with_labels(
            d.labels
                .iter()
                .map(|l| {
                    let label = if l.primary {
                        CsLabel::primary(l.span.source.0 as usize, l.span.range())
                    } else {
                        CsLabel::secondary(l.span.source.0 as usize, l.span.range())
                    };
                    label.with_message(l.message.clone())
                })
                .collect(),
        )
        .with_notes(d.notes.clone())
}

impl Error {
    /// The message as the command line prints it: for syntax and shape errors with
    /// the source lines and carets under the place, else `error: <message>`. Ends with
    /// a new line; no colour.
    ///
    /// ```
    /// let error = matdiff::Function::parse("x*", "").unwrap_err();
    /// let text = error.render();
    /// assert!(text.starts_with("error: expected an expression"));
    /// assert!(text.contains("<expr>:1:"));
    /// ```
    pub fn render(&self) -> String {
        match self.in_source() {
            Some(located) => located.render(),
            None => format!("error: {self}\n"),
        }
    }

    /// The diagnostics of an error that points into its source texts, if it does.
    fn in_source(&self) -> Option<&Located> {
        match self {
            Error::Syntax(located)
            | Error::Shape(located)
            | Error::NoClosedForm(located)
            | Error::Unsupported(located) => Some(located).filter(|l| !l.sources.is_empty()),
            _ => None,
        }
    }

    /// [`Error::render`] written to stderr, coloured when stderr is a terminal.
    ///
    /// ```no_run
    /// if let Err(error) = matdiff::Function::parse("x +", "") {
    ///     error.eprint();
    /// }
    /// ```
    pub fn eprint(&self) {
        match self.in_source() {
            Some(located) => {
                let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    termcolor::ColorChoice::Auto
                } else {
                    termcolor::ColorChoice::Never
                };
                located.write(&mut termcolor::StandardStream::stderr(choice));
            }
            None => eprint!("{}", self.render()),
        }
    }

    /// The places in the source texts that the error points at (empty for an error
    /// without a place), for marking them where the text was typed.
    ///
    /// ```
    /// let error = matdiff::Function::parse("x +", "").unwrap_err();
    /// assert_eq!(error.places()[0].source, "<expr>");
    /// let error = matdiff::Function::parse("x'*x", "").unwrap().gradient("y").unwrap_err();
    /// assert!(error.places().is_empty());
    /// ```
    pub fn places(&self) -> Vec<Place> {
        self.in_source().map(Located::places).unwrap_or_default()
    }

    /// The variant's name in words, stable for programs that sort errors (a web
    /// page, an HTTP status): `syntax`, `shape`, `unknown_variable`, `domain`,
    /// `divergence`, `data_file`, `io`, `too_large`, `no_closed_form`, `unsupported`,
    /// `invalid_option` or `invalid`.
    ///
    /// ```
    /// let error = matdiff::Function::parse("x +", "").unwrap_err();
    /// assert_eq!(error.category(), "syntax");
    /// ```
    pub fn category(&self) -> &'static str {
        match self {
            Error::Syntax(_) => "syntax",
            Error::Shape(_) => "shape",
            Error::UnknownVariable { .. } => "unknown_variable",
            Error::Domain(_) => "domain",
            Error::Divergence(_) => "divergence",
            Error::DataFile(_) => "data_file",
            Error::Io(_) => "io",
            Error::TooLarge(_) => "too_large",
            Error::NoClosedForm(_) => "no_closed_form",
            Error::Unsupported(_) => "unsupported",
            Error::InvalidOption { .. } => "invalid_option",
            Error::Invalid(_) => "invalid",
        }
    }

    pub(crate) fn shape(message: impl Into<String>) -> Error {
        Error::Shape(Located::plain(message))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax(located)
            | Error::Shape(located)
            | Error::NoClosedForm(located)
            | Error::Unsupported(located) => f.write_str(&located.headline()),
            Error::UnknownVariable {
                name,
                known,
                is_dimension,
            } => {
                if *is_dimension {
                    write!(f, "`{name}` is a dimension, not a variable")?;
                } else {
                    write!(f, "unknown variable `{name}`")?;
                }
                if known.is_empty() {
                    f.write_str(" — the expression has no variables")
                } else {
                    let names: Vec<String> = known.iter().map(|n| format!("`{n}`")).collect();
                    write!(f, " — the variables are {}", names.join(", "))
                }
            }
            Error::InvalidOption { option, reason } => write!(f, "invalid {option}: {reason}"),
            Error::Domain(m)
            | Error::Divergence(m)
            | Error::DataFile(m)
            | Error::Io(m)
            | Error::TooLarge(m)
            | Error::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// The largest character boundary of `text` at or before `byte`.
fn floor_char_boundary(text: &str, mut byte: usize) -> usize {
    while byte > 0 && !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

impl From<matdiff_num::InputError> for Error {
    fn from(error: matdiff_num::InputError) -> Error {
        use matdiff_num::InputError as I;
        match &error {
            I::UnknownName { name, .. } => Error::UnknownVariable {
                name: name.clone(),
                known: Vec::new(),
                is_dimension: false,
            },
            I::Json(_) | I::NotAnObject | I::NotANumber { .. } => Error::Invalid(error.to_string()),
            _ => Error::shape(error.to_string()),
        }
    }
}

impl From<matdiff_num::data::DataError> for Error {
    fn from(error: matdiff_num::data::DataError) -> Error {
        match error {
            matdiff_num::data::DataError::Io { .. } => Error::Io(error.to_string()),
            other => Error::DataFile(other.to_string()),
        }
    }
}

impl From<matdiff_fit::linreg::LinregError> for Error {
    fn from(error: matdiff_fit::linreg::LinregError) -> Error {
        use matdiff_fit::linreg::LinregError as L;
        use matdiff_fit::optim::OptimError;
        let message = error.to_string();
        match error {
            L::Iterative {
                source: OptimError::Diverged { .. },
                ..
            } => Error::Divergence(message),
            L::Numerical(_) | L::Iterative { .. } => Error::Domain(message),
            L::RowMismatch { .. } | L::NameMismatch { .. } => Error::shape(message),
            _ => Error::Invalid(message),
        }
    }
}

impl From<matdiff_fit::spec::FitError> for Error {
    fn from(error: matdiff_fit::spec::FitError) -> Error {
        use matdiff_fit::problem::ProblemError as P;
        use matdiff_fit::spec::FitError as F;
        let message = error.to_string();
        if error.is_divergence() {
            return Error::Divergence(message);
        }
        if !error.is_input_error() {
            return Error::Domain(message);
        }
        match (&error, error.problem_error()) {
            (F::Data(e), _) => e.clone().into(),
            (_, Some(P::Data(e))) => e.clone().into(),
            (_, Some(P::UnknownVariable { name, .. } | P::UnknownData { name, .. })) => {
                Error::UnknownVariable {
                    name: name.clone(),
                    known: Vec::new(),
                    is_dimension: false,
                }
            }
            (_, Some(P::Input(e))) => e.clone().into(),
            (_, Some(P::NotScalar { .. } | P::StartShape { .. })) => Error::shape(message),
            _ => Error::Invalid(message),
        }
    }
}
