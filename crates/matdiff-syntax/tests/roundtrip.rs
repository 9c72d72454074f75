//! Random well-formed trees, printed with as few parentheses as the precedence rules
//! of docs/language.md allow (with random spacing, line breaks, comments and Unicode
//! spellings), parse back to the same tree.

use matdiff_syntax::{parse_expr, BinOp, Expr, ExprKind, Ident, SourceId, Span};
use proptest::prelude::*;
use proptest::sample::select;

fn node(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    node(ExprKind::Call {
        func: Ident {
            name: name.to_string(),
            span: Span::default(),
        },
        args,
    })
}

const OPS: &[BinOp] = &[
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Pow,
    BinOp::ElemMul,
    BinOp::ElemDiv,
    BinOp::ElemPow,
];

fn arb_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        select(&["x", "y", "A", "B2", "w_1", "lambda", "N"][..])
            .prop_map(|n| node(ExprKind::Name(n.to_string()))),
        select(&[0.0, 1.0, 2.0, 0.5, 1e-3, 15000.0, 2.5][..])
            .prop_map(|v| node(ExprKind::Number(v))),
        select(&["eye", "ones"][..]).prop_map(|f| call(f, Vec::new())),
    ];
    leaf.prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| node(ExprKind::Neg(Box::new(e)))),
            inner
                .clone()
                .prop_map(|e| node(ExprKind::Transpose(Box::new(e)))),
            (select(OPS), inner.clone(), inner.clone()).prop_map(|(op, l, r)| node(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                }
            )),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| node(ExprKind::Inner(Box::new(a), Box::new(b)))),
            (
                select(&["tr", "exp", "norm2", "inv", "eye"][..]),
                inner.clone()
            )
                .prop_map(|(f, a)| call(f, vec![a])),
        ]
    })
}

/// How tightly a node binds when printed without parentheses.
fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => match op {
            BinOp::Add | BinOp::Sub => 10,
            BinOp::Mul | BinOp::Div | BinOp::ElemMul | BinOp::ElemDiv => 20,
            BinOp::Pow | BinOp::ElemPow => 40,
        },
        ExprKind::Neg(_) => 30,
        ExprKind::Transpose(_) => 50,
        _ => 60,
    }
}

/// Prints with minimal parentheses; `seed` drives the choice of spellings and
/// spacing.
struct Printer {
    seed: u64,
}

impl Printer {
    fn coin(&mut self) -> bool {
        // xorshift64: deterministic for a given seed, which proptest shrinks.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed & 1 == 1
    }

    fn space(&mut self) -> &'static str {
        match (self.coin(), self.coin(), self.coin()) {
            (false, _, _) => "",
            (true, false, _) => " ",
            (true, true, false) => "\n  ",
            (true, true, true) => " # note\n",
        }
    }

    fn spell(&mut self, ascii: &'static str, unicode: &'static str) -> &'static str {
        if self.coin() {
            unicode
        } else {
            ascii
        }
    }

    fn wrapped(&mut self, e: &Expr, parens: bool) -> String {
        let inner = self.print(e);
        if parens {
            let (a, b) = (self.space(), self.space());
            format!("({a}{inner}{b})")
        } else {
            inner
        }
    }

    fn print(&mut self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(v) => format!("{v}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Neg(a) => {
                let minus = self.spell("-", "−");
                let sp = self.space();
                let a = self.wrapped(a, precedence(a) < 30);
                format!("{minus}{sp}{a}")
            }
            ExprKind::Transpose(a) => {
                let a = self.wrapped(a, precedence(a) < 50);
                let sp = self.space();
                let quote = self.spell("'", "ᵀ");
                format!("{a}{sp}{quote}")
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let p = precedence(e);
                let right_assoc = p == 40;
                let lhs_parens = if right_assoc {
                    precedence(lhs) <= p
                } else {
                    precedence(lhs) < p
                };
                // `x^-1`: a power's exponent may start with a unary minus.
                let rhs_parens = if right_assoc {
                    precedence(rhs) < p && !matches!(rhs.kind, ExprKind::Neg(_))
                } else {
                    precedence(rhs) <= p
                };
                let symbol = match op {
                    BinOp::Mul => self.spell("*", "·"),
                    BinOp::Sub => self.spell("-", "−"),
                    BinOp::ElemMul => self.spell(".*", "∘"),
                    _ => op.symbol(),
                };
                let l = self.wrapped(lhs, lhs_parens);
                let (s1, s2) = (self.space(), self.space());
                let r = self.wrapped(rhs, rhs_parens);
                format!("{l}{s1}{symbol}{s2}{r}")
            }
            ExprKind::Inner(a, b) => {
                let a = self.print(a);
                let sp = self.space();
                let b = self.print(b);
                if self.coin() {
                    format!("dot({a},{sp}{b})")
                } else {
                    let (open, close) = if self.coin() {
                        ("<", ">")
                    } else {
                        ("⟨", "⟩")
                    };
                    format!("{open}{a},{sp}{b}{close}")
                }
            }
            ExprKind::Call { func, args } => {
                if args.is_empty() {
                    return func.name.clone();
                }
                let args: Vec<String> = args.iter().map(|a| self.print(a)).collect();
                format!("{}({})", func.name, args.join(", "))
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn minimal_parentheses_parse_back(expr in arb_expr(), seed in 1..u64::MAX) {
        let text = Printer { seed }.print(&expr);
        let (parsed, diags) = parse_expr(&text, SourceId(0));
        prop_assert!(diags.is_empty(), "{text:?}: {diags:?}");
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.to_sexpr(), expr.to_sexpr(), "printed as {:?}", text);
        prop_assert_eq!(&text[parsed.span.range()], text.trim_end_matches(['\n', ' ']));
    }
}
