//! Errors as data: what went wrong and where, rendered with carets by the CLI.

use crate::span::Span;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A span with a short message printed under its caret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    /// The primary label gets `^^^`; secondary labels get `---`.
    pub primary: bool,
}

/// One problem found in the input. Messages are short, lower-case, without a
/// trailing period, and say what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a primary label at `span`.
    pub fn error(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            labels: vec![Label {
                span,
                message: label.into(),
                primary: true,
            }],
            notes: Vec::new(),
        }
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds a note printed after the source snippet (`= help: …`).
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The primary span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }
}

/// Renders diagnostics without colour for tests and logs: the message, then each
/// label as `source:start..end: message`. The CLI uses codespan-reporting instead.
pub fn render_plain(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{sev}: {}\n", d.message));
        for l in &d.labels {
            out.push_str(&format!(
                "  at {}:{}..{}: {}\n",
                l.span.source.0, l.span.start, l.span.end, l.message
            ));
        }
        for n in &d.notes {
            out.push_str(&format!("  = {n}\n"));
        }
    }
    out
}
