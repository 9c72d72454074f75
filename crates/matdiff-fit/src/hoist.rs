//! Loop-invariant hoisting: rewrites a loss and its gradient so that the parts that do
//! not depend on the optimised variable are separate values, computed once.
//!
//! Each root is expanded into a sum of products (distributing matrix products over
//! sums, transposes over products, and reading `<a, b>` and `norm2(a)^2` of vectors as
//! `a'*b` and `a'*a`). In every product, each maximal run of two or more adjacent
//! factors that do not depend on the variable becomes one hoisted value, and the
//! terms free of the variable are summed into one. So `2/N*X'*(X*w - y)` becomes
//! `2/N*(X'*X)*w + (-(2/N*X'*y))` with the two parenthesised values hoisted. A run
//! that would be a row vector is hoisted as the column it transposes, so `y'*X` and
//! `X'*y` share one value.
//!
//! Hoisted values are new variables of the graph; a plan compiled for the rewritten
//! roots reads them as inputs. Whether hoisting pays is the caller's decision (by the
//! flop counts of the two plans for the bound sizes).

use std::collections::HashMap;

use matdiff_core::{print, Func, Graph, Id, Kind, Node, Sym};

/// The most terms one product may expand into before it is kept whole.
const MAX_TERMS: usize = 64;

/// The rewritten roots and the values they read.
#[derive(Clone, Debug)]
pub(crate) struct Hoisting {
    /// The roots, reading the hoisted values as variables.
    pub roots: Vec<Id>,
    /// Each hoisted value: its variable and the expression that computes it.
    pub values: Vec<(Sym, Id)>,
}

/// Rewrites `roots` with respect to `wrt`; the graph gains the new nodes and one
/// variable per hoisted value.
pub(crate) fn hoist(graph: &mut Graph, roots: &[Id], wrt: Sym) -> Hoisting {
    let mut h = Hoister {
        graph,
        wrt,
        dep: Vec::new(),
        memo: HashMap::new(),
        values: Vec::new(),
    };
    let roots = roots.iter().map(|&r| h.rewrite(r)).collect();
    Hoisting {
        roots,
        values: h.values,
    }
}

/// A signed product: scalar factors times matrix factors (each possibly transposed).
#[derive(Clone, Debug)]
struct Term {
    negate: bool,
    scalars: Vec<Id>,
    factors: Vec<(Id, bool)>,
}

impl Term {
    fn transposed(mut self) -> Term {
        self.factors.reverse();
        for f in &mut self.factors {
            f.1 = !f.1;
        }
        self
    }

    fn times(&self, other: &Term) -> Term {
        Term {
            negate: self.negate != other.negate,
            scalars: self.scalars.iter().chain(&other.scalars).copied().collect(),
            factors: self.factors.iter().chain(&other.factors).copied().collect(),
        }
    }
}

struct Hoister<'g> {
    graph: &'g mut Graph,
    wrt: Sym,
    /// Whether each node depends on `wrt`, filled in id order as needed.
    dep: Vec<bool>,
    /// Hoisted expression → the variable node holding its value.
    memo: HashMap<Id, Id>,
    values: Vec<(Sym, Id)>,
}

impl Hoister<'_> {
    fn depends(&mut self, id: Id) -> bool {
        while self.dep.len() <= id.index() {
            let next = Id(self.dep.len() as u32);
            let node = self.graph.node(next);
            let own = matches!(node, Node::Var(s) | Node::Differential(s) if s == self.wrt);
            let d = own || node.children().any(|c| self.dep[c.index()]);
            self.dep.push(d);
        }
        self.dep[id.index()]
    }

    fn is_scalar(&self, id: Id) -> bool {
        self.graph.shape(id).is_scalar()
    }

    fn is_column(&self, id: Id) -> bool {
        self.graph.shape(id).is_column()
    }

    fn atom(&self, id: Id) -> Term {
        let scalar = self.is_scalar(id);
        Term {
            negate: false,
            scalars: if scalar { vec![id] } else { Vec::new() },
            factors: if scalar {
                Vec::new()
            } else {
                vec![(id, false)]
            },
        }
    }

    /// `id` rebuilt with its invariant parts hoisted.
    fn rewrite(&mut self, id: Id) -> Id {
        if !self.depends(id) {
            return self.hoisted(id);
        }
        let terms = self.expand(id);
        self.build(terms)
    }

    /// A scalar factor: rewritten when it depends on the variable, else kept (scalars
    /// cost nothing to recompute).
    fn scalar(&mut self, id: Id) -> Id {
        if self.depends(id) {
            self.rewrite(id)
        } else {
            id
        }
    }

    fn product(&mut self, a: Vec<Term>, b: Vec<Term>) -> Option<Vec<Term>> {
        if a.len() * b.len() > MAX_TERMS {
            return None;
        }
        Some(
            a.iter()
                .flat_map(|x| b.iter().map(move |y| x.times(y)))
                .collect(),
        )
    }

    /// The sum of products `id` expands into.
    /// Invariant subexpressions are expanded too, so that their factors can join runs.
    fn expand(&mut self, id: Id) -> Vec<Term> {
        let graph = &*self.graph;
        let node = graph.node(id);
        let expanded = match node {
            Node::Add(a, b) if graph.shape(a) == graph.shape(b) => {
                let mut terms = self.expand(a);
                terms.extend(self.expand(b));
                Some(terms)
            }
            Node::Neg(a) => Some(
                self.expand(a)
                    .into_iter()
                    .map(|mut t| {
                        t.negate = !t.negate;
                        t
                    })
                    .collect(),
            ),
            Node::Mul(a, b) if self.is_scalar(a) || self.is_scalar(b) => {
                let (s, m) = if self.is_scalar(a) { (a, b) } else { (b, a) };
                let s = self.scalar(s);
                let mut terms = self.expand(m);
                for t in &mut terms {
                    t.scalars.push(s);
                }
                Some(terms)
            }
            Node::Mul(a, b) => {
                let (ta, tb) = (self.expand(a), self.expand(b));
                self.product(ta, tb)
            }
            Node::Div(a, b) => {
                let one = self.graph.constant(1.0);
                let b = self.scalar(b);
                let inv = self.graph.div(one, b);
                let mut terms = self.expand(a);
                for t in &mut terms {
                    t.scalars.push(inv);
                }
                Some(terms)
            }
            Node::Transpose(a) => Some(self.expand(a).into_iter().map(Term::transposed).collect()),
            Node::Inner(a, b) if self.is_column(a) && self.is_column(b) => {
                let ta: Vec<Term> = self.expand(a).into_iter().map(Term::transposed).collect();
                let tb = self.expand(b);
                self.product(ta, tb)
            }
            Node::Pow(n, k) if graph.const_value(k) == Some(2.0) => match graph.node(n) {
                Node::Apply(Func::Norm2, a) if graph.shape(a).is_column() => {
                    let ta: Vec<Term> = self.expand(a).into_iter().map(Term::transposed).collect();
                    let tb = self.expand(a);
                    self.product(ta, tb)
                }
                _ => None,
            },
            _ => None,
        };
        expanded.unwrap_or_else(|| vec![self.atom(id)])
    }

    /// The sum of `terms`, with invariant runs and invariant terms hoisted.
    fn build(&mut self, terms: Vec<Term>) -> Id {
        let mut invariant: Option<Id> = None;
        let mut sum: Option<Id> = None;
        for term in terms {
            let free = !term.scalars.iter().any(|&s| self.depends(s))
                && !term.factors.iter().any(|&(f, _)| self.depends(f));
            if free {
                let node = self.term_node(&term.scalars, &term.factors, term.negate);
                invariant = Some(match invariant {
                    Some(acc) => self.graph.sum2(acc, node),
                    None => node,
                });
                continue;
            }
            let mut factors = Vec::new();
            let mut run: Vec<(Id, bool)> = Vec::new();
            for &(f, t) in &term.factors {
                if self.depends(f) {
                    self.flush(&mut run, &mut factors);
                    factors.push((f, t));
                } else {
                    run.push((f, t));
                }
            }
            self.flush(&mut run, &mut factors);
            let node = self.term_node(&term.scalars, &factors, term.negate);
            sum = Some(match sum {
                Some(acc) => self.graph.sum2(acc, node),
                None => node,
            });
        }
        let invariant = invariant.map(|v| self.hoisted(v));
        match (sum, invariant) {
            (Some(s), Some(v)) => self.graph.sum2(s, v),
            (Some(s), None) => s,
            (None, Some(v)) => v,
            (None, None) => self.graph.constant(0.0),
        }
    }

    /// Moves a run of invariant factors into `out`: hoisted as one value when it has
    /// two or more.
    fn flush(&mut self, run: &mut Vec<(Id, bool)>, out: &mut Vec<(Id, bool)>) {
        if run.len() < 2 {
            out.append(run);
            return;
        }
        let first = self.factor(run[0]);
        let last = self.factor(run[run.len() - 1]);
        let row = self.graph.shape(first).rows == matdiff_core::Dim::Size(1)
            && self.graph.shape(last).cols != matdiff_core::Dim::Size(1);
        let value = if row {
            let flipped: Vec<(Id, bool)> = run.iter().rev().map(|&(f, t)| (f, !t)).collect();
            let column = self.chain(&flipped);
            let v = self.hoisted(column);
            self.graph.transpose(v)
        } else {
            let product = self.chain(run);
            self.hoisted(product)
        };
        out.push((value, false));
        run.clear();
    }

    fn factor(&mut self, (f, t): (Id, bool)) -> Id {
        if t {
            self.graph.transpose(f)
        } else {
            f
        }
    }

    /// The product of the factors, left to right.
    fn chain(&mut self, factors: &[(Id, bool)]) -> Id {
        let mut acc: Option<Id> = None;
        for &f in factors {
            let f = self.factor(f);
            acc = Some(match acc {
                Some(a) => self.graph.mul(a, f),
                None => f,
            });
        }
        acc.unwrap_or_else(|| self.graph.constant(1.0))
    }

    fn term_node(&mut self, scalars: &[Id], factors: &[(Id, bool)], negate: bool) -> Id {
        let mut node = self.chain(factors);
        for &s in scalars {
            node = self.graph.mul(s, node);
        }
        if negate {
            node = self.graph.neg(node);
        }
        node
    }

    /// The variable that holds the value of the invariant `expr` (the expression
    /// itself when it is already a leaf).
    fn hoisted(&mut self, expr: Id) -> Id {
        if matches!(
            self.graph.node(expr),
            Node::Var(_) | Node::Const(_) | Node::DimValue(_) | Node::Eye(_) | Node::Ones(_)
        ) {
            return expr;
        }
        if let Node::Transpose(inner) = self.graph.node(expr) {
            if matches!(self.graph.node(inner), Node::Var(_)) {
                return expr;
            }
        }
        if let Some(&v) = self.memo.get(&expr) {
            return v;
        }
        let shape = self.graph.shape(expr);
        let kind = if shape.is_scalar() {
            Kind::Scalar
        } else if shape.is_column() {
            Kind::Vector
        } else {
            Kind::Matrix
        };
        let text = print::text(self.graph, expr);
        let mut name = format!("({text})");
        while self.graph.variable_named(&name).is_some() {
            name.push('\'');
        }
        let sym = self.graph.declare(&name, kind, shape);
        let var = self.graph.add(Node::Var(sym));
        self.memo.insert(expr, var);
        self.values.push((sym, expr));
        var
    }
}
