//! The built-in functions of the language, with their arities.

/// How many arguments a built-in takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    Exactly(usize),
    /// `eye`, `ones`: no argument (size inferred) or one (the size).
    ZeroOrOne,
}

/// Every function name the parser accepts, with its arity.
///
/// `sign` and `step` are the derivatives of `abs` and `relu`; they are in the
/// language so that every derived result prints as text that parses back.
pub const FUNCTIONS: &[(&str, Arity)] = &[
    ("tr", Arity::Exactly(1)),
    ("trace", Arity::Exactly(1)),
    ("det", Arity::Exactly(1)),
    ("logdet", Arity::Exactly(1)),
    ("inv", Arity::Exactly(1)),
    ("diag", Arity::Exactly(1)),
    ("sum", Arity::Exactly(1)),
    ("norm1", Arity::Exactly(1)),
    ("norm2", Arity::Exactly(1)),
    ("logsumexp", Arity::Exactly(1)),
    ("softmax", Arity::Exactly(1)),
    ("logsumexp_cols", Arity::Exactly(1)),
    ("softmax_cols", Arity::Exactly(1)),
    ("vec", Arity::Exactly(1)),
    ("kron", Arity::Exactly(2)),
    ("exp", Arity::Exactly(1)),
    ("log", Arity::Exactly(1)),
    ("sin", Arity::Exactly(1)),
    ("cos", Arity::Exactly(1)),
    ("tan", Arity::Exactly(1)),
    ("tanh", Arity::Exactly(1)),
    ("arcsin", Arity::Exactly(1)),
    ("arccos", Arity::Exactly(1)),
    ("arctan", Arity::Exactly(1)),
    ("asin", Arity::Exactly(1)),
    ("acos", Arity::Exactly(1)),
    ("atan", Arity::Exactly(1)),
    ("sinh", Arity::Exactly(1)),
    ("cosh", Arity::Exactly(1)),
    ("log1p", Arity::Exactly(1)),
    ("sqrt", Arity::Exactly(1)),
    ("abs", Arity::Exactly(1)),
    ("sigmoid", Arity::Exactly(1)),
    ("softplus", Arity::Exactly(1)),
    ("relu", Arity::Exactly(1)),
    ("sign", Arity::Exactly(1)),
    ("step", Arity::Exactly(1)),
    ("dot", Arity::Exactly(2)),
    ("vector", Arity::Exactly(1)),
    ("matrix", Arity::Exactly(1)),
    ("eye", Arity::ZeroOrOne),
    ("ones", Arity::ZeroOrOne),
];

/// The arity of a built-in, or `None` when the name is not a function.
pub fn arity(name: &str) -> Option<Arity> {
    FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// The closest known function name, for "did you mean" suggestions
/// (edit distance at most 2, or a shared prefix of 3).
pub fn suggest(name: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for (candidate, _) in FUNCTIONS {
        let d = edit_distance(name, candidate);
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c).or_else(|| {
        FUNCTIONS
            .iter()
            .map(|(c, _)| *c)
            .find(|c| name.get(..3).is_some_and(|prefix| c.starts_with(prefix)))
    })
}

/// Levenshtein distance between two names, counted in chars.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
