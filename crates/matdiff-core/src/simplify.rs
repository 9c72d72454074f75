//! The simplifier: brings derived expressions to textbook form, deterministically.
//!
//! An expression is expanded into a normal form — a sum of terms, each a numeric
//! coefficient × scalar factors with integer exponents × a chain of matrix factors —
//! then rebuilt:
//! 1. constants folded, zeros and identities dropped, transposes pushed to the
//!    leaves (`(AB)' = B'A'`, `(A')' = A`, `S' = S` for symmetric S, `inv(A)'` as the
//!    canonical spelling);
//! 2. like terms collected (`r + r` → `2*r`; hash-consing makes this a comparison);
//! 3. terms sharing a left or right factor grouped (`A*x + A'*x` → `(A + A')*x`);
//! 4. scalars gathered in front (`2/N*X'*(X*w - y)`), or as a denominator
//!    (`x/norm2(x)`), and terms ordered by a stable structural key.
//!
//! Sums inside products are never multiplied out: `X'*(X*w - y)` stays as it is.
//!
//! Identities applied on the way (each tested by value in
//! `matdiff-num/tests/simplify_rules.rs`): `inv(A)*A = I`; `det(X^k) = det(X)^k`,
//! `logdet(X^k) = k logdet(X)`, `inv(X^k) = inv(X)^k`; `diag(u*v') = u .* v`;
//! `1 - sigmoid(z) = sigmoid(-z)`; elementwise powers of one base merge
//! (`q ./ q.^2 = 1 ./ q`, `a ./ a` cancels) and so do scalar ones
//! (`det(X)*det(X)^(-1/2) = det(X)^0.5`); `relu(u) .* step(u) = relu(u)`; scalar
//! factors shared by every term are collected (`(X - A)/norm2(X - A)`).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::ir::{Dim, Func, Graph, Id, Node, Real, Shape};

/// Simplifies `id` to textbook form; the result is in the same graph.
pub fn simplify(g: &mut Graph, id: Id) -> Id {
    Simplifier::new(g, false).simplify(id)
}

/// Like [`simplify`], but inner products of vectors stay `<u, v>` rather than
/// becoming `u'*v`: the spelling of the lines of a derivation.
pub fn simplify_keeping_inner(g: &mut Graph, id: Id) -> Id {
    Simplifier::new(g, true).simplify(id)
}

/// Whether two expressions have the same textbook form.
pub fn same_value_form(g: &mut Graph, a: Id, b: Id) -> bool {
    simplify(g, a) == simplify(g, b)
}

/// One term: `coef × Π scalars[i].0 ^ scalars[i].1 × chain[0] * chain[1] * …`.
#[derive(Clone, Debug, PartialEq)]
struct Term {
    coef: f64,
    /// Scalar factors with their exponents, sorted by id, no zero exponents.
    scalars: Vec<(Id, i32)>,
    /// Non-scalar factors in product order.
    chain: Vec<Id>,
}

impl Term {
    fn constant(c: f64) -> Term {
        Term {
            coef: c,
            scalars: Vec::new(),
            chain: Vec::new(),
        }
    }

    fn factor(id: Id) -> Term {
        Term {
            coef: 1.0,
            scalars: Vec::new(),
            chain: vec![id],
        }
    }

    fn scalar(id: Id, exp: i32) -> Term {
        Term {
            coef: 1.0,
            scalars: vec![(id, exp)],
            chain: Vec::new(),
        }
    }

    fn same_scalars(&self, other: &Term) -> bool {
        self.coef == other.coef && self.scalars == other.scalars
    }
}

type Sum = Vec<Term>;

struct Simplifier<'g> {
    g: &'g mut Graph,
    cache: HashMap<Id, Id>,
    /// The expansion of each node expanded more than once: a subexpression that many
    /// paths reach (`x'*x + x'*x + …`) is expanded twice at most, not once per path.
    /// A node expanded once is not kept: keeping every partial sum of a long flat sum
    /// would copy it once per term.
    expanded: HashMap<Id, Sum>,
    /// The nodes expanded at least once.
    seen: HashSet<Id>,
    /// Node comparisons already made (see [`Simplifier::compare`]).
    keys: HashMap<(Id, Id), Ordering>,
    keep_inner: bool,
}

impl<'g> Simplifier<'g> {
    fn new(g: &'g mut Graph, keep_inner: bool) -> Simplifier<'g> {
        Simplifier {
            g,
            cache: HashMap::new(),
            expanded: HashMap::new(),
            seen: HashSet::new(),
            keys: HashMap::new(),
            keep_inner,
        }
    }

    fn simplify(&mut self, id: Id) -> Id {
        if let Some(&done) = self.cache.get(&id) {
            return done;
        }
        let shape = self.g.shape(id);
        let sum = self.expand(id);
        let out = self.rebuild(sum, shape);
        self.cache.insert(id, out);
        self.cache.insert(out, out);
        out
    }

    fn has_differential(&self, id: Id) -> bool {
        self.g.reachable(&[id]).into_iter().any(|n| {
            matches!(
                self.g.node(n),
                Node::Differential(_) | Node::DifferentialOf(_)
            )
        })
    }

    fn is_scalar(&self, id: Id) -> bool {
        self.g.shape(id).is_scalar()
    }

    /// `p` (simplified) when `id` simplifies to the single negative term `-p`.
    fn negated(&mut self, id: Id) -> Option<Id> {
        let s = self.expand(id);
        match s.as_slice() {
            [t] if t.coef < 0.0 => {
                let pos = Term {
                    coef: -t.coef,
                    ..t.clone()
                };
                let shape = self.g.shape(id);
                Some(self.rebuild(vec![pos], shape))
            }
            _ => None,
        }
    }

    /// `1 - sigmoid(z) = sigmoid(-z)`, the `1` a constant or a vector of ones, in
    /// either order.
    fn one_minus_sigmoid(&mut self, a: Id, b: Id) -> Option<Sum> {
        let rest = if is_one_like(self.g, a) {
            b
        } else if is_one_like(self.g, b) {
            a
        } else {
            return None;
        };
        let s = self.expand(rest);
        let [t] = s.as_slice() else { return None };
        if t.coef != -1.0 {
            return None;
        }
        // A scalar sigmoid is a scalar factor, a vector one a chain factor.
        let factor = match (t.chain.as_slice(), t.scalars.as_slice()) {
            ([f], []) | ([], [(f, 1)]) => *f,
            _ => return None,
        };
        let Node::Apply(Func::Sigmoid, z) = self.g.node(factor) else {
            return None;
        };
        let nz = self.g.add(Node::Neg(z));
        let nz = self.simplify(nz);
        let sig = self.g.apply(Func::Sigmoid, nz);
        Some(self.atom_term(sig))
    }

    // ----- expansion into the normal form -------------------------------------

    fn expand(&mut self, id: Id) -> Sum {
        if let Some(s) = self.expanded.get(&id) {
            return s.clone();
        }
        // Kept from the second expansion on: a node reached once (each partial sum of
        // a long flat sum) is not copied into the cache.
        let again = !self.seen.insert(id);
        let s = self.expand_uncached(id);
        if again {
            self.expanded.insert(id, s.clone());
        }
        s
    }

    fn expand_uncached(&mut self, id: Id) -> Sum {
        let g = &mut *self.g;
        match g.node(id) {
            Node::Const(c) => {
                if c.value() == 0.0 {
                    Vec::new()
                } else {
                    vec![Term::constant(c.value())]
                }
            }
            Node::Zeros(_) => Vec::new(),
            Node::DifferentialOf(a) => {
                let a = self.simplify(a);
                let node = self.g.add(Node::DifferentialOf(a));
                self.atom_term(node)
            }
            Node::Var(_) | Node::DimValue(_) | Node::Differential(_) if g.shape(id).is_scalar() => {
                vec![Term::scalar(id, 1)]
            }
            Node::Var(_) | Node::Differential(_) | Node::Eye(_) | Node::Ones(_) => {
                vec![Term::factor(id)]
            }
            Node::DimValue(_) => vec![Term::scalar(id, 1)],
            Node::Add(a, b) => {
                if let Some(s) = self.one_minus_sigmoid(a, b) {
                    return s;
                }
                if self.g.shape(a) != self.g.shape(b) {
                    // A broadcast sum (`1 - s`) stays one factor, its negative
                    // operand written after a minus (`1 - 2*x`, not `1 + -2*x`).
                    let a = self.simplify(a);
                    let node = match self.negated(b) {
                        Some(pos) => {
                            let n = self.g.add(Node::Neg(pos));
                            self.g.add(Node::Add(a, n))
                        }
                        None => {
                            let b = self.simplify(b);
                            self.g.add(Node::Add(a, b))
                        }
                    };
                    return self.atom_term(node);
                }
                let mut s = self.expand(a);
                s.extend(self.expand(b));
                s
            }
            Node::Neg(a) => {
                let mut s = self.expand(a);
                for t in &mut s {
                    t.coef = -t.coef;
                }
                s
            }
            Node::Mul(a, b) => self.expand_product(a, b),
            Node::Div(a, phi) => {
                let den = self.expand(phi);
                let inv = self.invert(den, phi);
                let num = self.expand(a);
                match inv {
                    Some(inv) => num.into_iter().map(|t| self.merge(&t, &inv)).collect(),
                    None => num,
                }
            }
            Node::Pow(a, k) => self.expand_power(id, a, k),
            Node::ElemMul(a, b) => {
                if g.shape(a).is_scalar() || g.shape(b).is_scalar() {
                    return self.expand_product(a, b);
                }
                self.expand_elementwise(id)
            }
            Node::ElemDiv(a, b) => {
                if g.shape(b).is_scalar() {
                    let d = self.g.add(Node::Div(a, b));
                    return self.expand(d);
                }
                if g.shape(a) != g.shape(b) {
                    let a = self.simplify(a);
                    let b = self.simplify(b);
                    let node = self.g.add(Node::ElemDiv(a, b));
                    return self.atom_term(node);
                }
                self.expand_elementwise(id)
            }
            Node::ElemPow(a, k) => {
                if g.const_value(k) == Some(1.0) {
                    return self.expand(a);
                }
                if g.shape(a).is_scalar() && g.shape(k).is_scalar() {
                    let p = self.g.add(Node::Pow(a, k));
                    return self.expand(p);
                }
                let a = self.simplify(a);
                let k = self.simplify(k);
                let node = self.g.add(Node::ElemPow(a, k));
                self.atom_term(node)
            }
            Node::Transpose(a) => {
                let s = self.expand(a);
                if s.len() > 1 {
                    // A transposed sum keeps its parentheses: (x - m)'. When it
                    // factors into one term, that term is transposed factor by
                    // factor, its sign staying outside: no `-(-A*B)'`.
                    let shape = self.g.shape(a);
                    let sum = self.rebuild(s, shape);
                    let again = self.expand(sum);
                    if let [t] = again.as_slice() {
                        if !t.chain.is_empty() && !matches!(self.g.node(sum), Node::Add(..)) {
                            return vec![self.transpose_term(t.clone())];
                        }
                    }
                    let t = self.transpose_factor(sum);
                    return self.atom_term(t);
                }
                s.into_iter().map(|t| self.transpose_term(t)).collect()
            }
            Node::Inner(a, b) => self.expand_inner(a, b),
            Node::Apply(f, a) => self.expand_apply(id, f, a),
            Node::Kron(a, b) => self.expand_kron(a, b),
        }
    }

    /// `kron(a A, b B) = a b kron(A, B)`: scalars leave both factors.
    fn expand_kron(&mut self, a: Id, b: Id) -> Sum {
        let sa = self.expand(a);
        let sb = self.expand(b);
        let (Some(ta), Some(tb)) = (self.single(sa, a), self.single(sb, b)) else {
            return Vec::new();
        };
        let mut scale = Term::constant(1.0);
        let mut bodies = [Id(0); 2];
        for (k, t) in [ta, tb].into_iter().enumerate() {
            bodies[k] = if t.chain.is_empty() {
                self.g.constant(1.0)
            } else {
                self.build_chain(&t.chain)
            };
            let outside = Term {
                chain: Vec::new(),
                ..t
            };
            scale = self.merge(&scale, &outside);
        }
        let node = self.g.kron(bodies[0], bodies[1]);
        if matches!(self.g.node(node), Node::Kron(..)) {
            return vec![self.merge(&scale, &Term::factor(node))];
        }
        // A scalar factor made it a scaling.
        let body = self.expand(node);
        body.iter().map(|t| self.merge(&scale, t)).collect()
    }

    /// A single factor: a scalar atom or a chain factor.
    fn atom_term(&mut self, node: Id) -> Sum {
        if let Some(c) = self.g.const_value(node) {
            return if c == 0.0 {
                Vec::new()
            } else {
                vec![Term::constant(c)]
            };
        }
        if self.is_scalar(node) {
            vec![Term::scalar(node, 1)]
        } else {
            vec![Term::factor(node)]
        }
    }

    fn expand_product(&mut self, a: Id, b: Id) -> Sum {
        let sa = self.expand(a);
        let sb = self.expand(b);
        let ta = self.single(sa, a);
        let tb = self.single(sb, b);
        match (ta, tb) {
            (Some(ta), Some(tb)) => vec![self.merge(&ta, &tb)],
            // A zero factor.
            _ => Vec::new(),
        }
    }

    /// Turns a sum into one term, wrapping a multi-term sum as one factor.
    /// `None` for zero.
    fn single(&mut self, s: Sum, original: Id) -> Option<Term> {
        match s.len() {
            0 => None,
            1 => s.into_iter().next(),
            _ => {
                // Common content comes out of the parentheses: 2*a - 2*b → 2*(a - b).
                let s = self.collect(s);
                if s.len() <= 1 {
                    return s.into_iter().next();
                }
                let (content, s) = common_content(s);
                let shape = self.g.shape(original);
                let node = self.rebuild(s, shape);
                let body = self.atom_term(node).into_iter().next()?;
                Some(self.merge(&content, &body))
            }
        }
    }

    /// The product of two terms (in this order).
    fn merge(&mut self, a: &Term, b: &Term) -> Term {
        let mut t = Term {
            coef: a.coef * b.coef,
            scalars: a.scalars.clone(),
            chain: Vec::new(),
        };
        for &(s, e) in &b.scalars {
            add_exponent(&mut t.scalars, s, e);
        }
        // A scalar-valued chain multiplying something else becomes a scalar factor.
        let a_chain_scalar = !a.chain.is_empty() && self.chain_is_scalar(&a.chain);
        let b_chain_scalar = !b.chain.is_empty() && self.chain_is_scalar(&b.chain);
        let mut chain = Vec::new();
        for (c, is_scalar, other_empty) in [
            (&a.chain, a_chain_scalar, b.chain.is_empty()),
            (&b.chain, b_chain_scalar, a.chain.is_empty()),
        ] {
            if is_scalar && !other_empty {
                let node = self.build_chain(c);
                add_exponent(&mut t.scalars, node, 1);
            } else {
                chain.extend(c.iter().copied());
            }
        }
        t.chain = self.drop_identities(chain);
        t
    }

    fn chain_is_scalar(&self, chain: &[Id]) -> bool {
        let first = self.g.shape(chain[0]);
        let last = self.g.shape(chain[chain.len() - 1]);
        first.rows == Dim::ONE && last.cols == Dim::ONE
    }

    /// Drops identity factors and merges neighbouring diagonal matrices:
    /// `diag(u)*diag(v)` → `diag(u .* v)`.
    fn drop_identities(&mut self, chain: Vec<Id>) -> Vec<Id> {
        if chain.len() < 2 {
            return chain;
        }
        let first = chain[0];
        let mut merged: Vec<Id> = Vec::with_capacity(chain.len());
        for f in chain {
            if let (Some(&last), Node::Apply(Func::Diag, v)) = (merged.last(), self.g.node(f)) {
                if let Node::Apply(Func::Diag, u) = self.g.node(last) {
                    let both_vectors =
                        self.g.shape(u).cols == Dim::ONE && self.g.shape(v).cols == Dim::ONE;
                    if both_vectors {
                        let uv = self.g.add(Node::ElemMul(u, v));
                        let uv = self.simplify(uv);
                        merged.pop();
                        merged.push(self.g.apply(Func::Diag, uv));
                        continue;
                    }
                }
            }
            // inv(A)*A = A*inv(A) = I (and transposed).
            if let Some(&last) = merged.last() {
                if is_inverse_pair(self.g, last, f) {
                    merged.pop();
                    continue;
                }
            }
            merged.push(f);
        }
        if merged.is_empty() {
            let n = self.g.shape(first).rows;
            merged.push(self.g.eye(n));
        }
        let chain = merged;
        if chain.len() < 2 {
            return chain;
        }
        let kept: Vec<Id> = chain
            .iter()
            .copied()
            .filter(|&f| !matches!(self.g.node(f), Node::Eye(_)))
            .collect();
        if kept.is_empty() {
            vec![chain[0]]
        } else {
            kept
        }
    }

    /// `1/s` of a scalar sum as a term; `None` means division by one.
    fn invert(&mut self, den: Sum, original: Id) -> Option<Term> {
        let t = self.single(den, original)?;
        let mut t = self.scalarize(t);
        t.coef = 1.0 / t.coef;
        for s in &mut t.scalars {
            s.1 = -s.1;
        }
        if t.coef == 1.0 && t.scalars.is_empty() {
            return None;
        }
        Some(t)
    }

    /// Moves a scalar-valued chain into the scalar factors.
    fn scalarize(&mut self, mut t: Term) -> Term {
        if !t.chain.is_empty() {
            let node = self.build_chain(&t.chain);
            add_exponent(&mut t.scalars, node, 1);
            t.chain.clear();
        }
        t
    }

    fn expand_power(&mut self, id: Id, a: Id, k: Id) -> Sum {
        let kv = self.g.const_value(k);
        if kv == Some(0.0) {
            return vec![Term::constant(1.0)];
        }
        if kv == Some(1.0) {
            return self.expand(a);
        }
        if !self.is_scalar(a) {
            // A^k with a small positive integer k is the chain A*A*…*A; runs of equal
            // factors are folded back into powers when the chain is built.
            if let Some(kv) = kv.filter(|v| v.fract() == 0.0 && *v >= 2.0 && *v <= 8.0) {
                let s = self.expand(a);
                let Some(t) = self.single(s, a) else {
                    return Vec::new();
                };
                let mut out = Term::constant(1.0);
                for _ in 0..kv as usize {
                    out = self.merge(&out, &t);
                }
                return vec![out];
            }
        }
        if self.is_scalar(a) {
            if let Some(kv) = kv.filter(|v| v.fract() == 0.0 && v.abs() <= 64.0) {
                let s = self.expand(a);
                let Some(t) = self.single(s, a) else {
                    return Vec::new();
                };
                let t = self.scalarize(t);
                let e = kv as i32;
                let mut out = Term::constant(t.coef.powi(e));
                for (s, x) in t.scalars {
                    add_exponent(&mut out.scalars, s, x * e);
                }
                return vec![out];
            }
        }
        let a2 = self.simplify(a);
        let k2 = self.simplify(k);
        let node = if a2 == a && k2 == k {
            id
        } else {
            self.g.add(Node::Pow(a2, k2))
        };
        self.atom_term(node)
    }

    /// Scalar factors with the same base and a constant exponent merge:
    /// `det(X)*det(X)^(-1/2)` is `det(X)^0.5`, `s^0.5*s^0.5` is `s`.
    fn merge_scalar_powers(&mut self, mut t: Term) -> Term {
        let base_of = |g: &Graph, s: Id| match g.node(s) {
            Node::Pow(b, k) if g.shape(b).is_scalar() => number(g, k).map(|k| (b, k)),
            _ => None,
        };
        let mut totals: Vec<(Id, f64, usize)> = Vec::new();
        for &(s, e) in &t.scalars {
            let (b, k) = base_of(self.g, s).unwrap_or((s, 1.0));
            match totals.iter_mut().find(|(x, _, _)| *x == b) {
                Some(entry) => {
                    entry.1 += k * e as f64;
                    entry.2 += 1;
                }
                None => totals.push((b, k * e as f64, 1)),
            }
        }
        if totals.iter().all(|&(_, _, count)| count < 2) {
            return t;
        }
        for (b, total, count) in totals {
            if count < 2 {
                continue;
            }
            t.scalars
                .retain(|&(s, _)| s != b && base_of(self.g, s).is_none_or(|(x, _)| x != b));
            if total == 0.0 {
                continue;
            }
            if total.fract() == 0.0 && total.abs() <= 64.0 {
                add_exponent(&mut t.scalars, b, total as i32);
            } else {
                let k = self.g.constant(total);
                let p = self.g.add(Node::Pow(b, k));
                add_exponent(&mut t.scalars, p, 1);
            }
        }
        t
    }

    /// An elementwise monomial: numerators ∘ … ./ (denominators ∘ …), flattened, with
    /// scalars pulled out, `ones` dropped, equal factors cancelled and the rest
    /// ordered by the structural key.
    fn expand_elementwise(&mut self, root: Id) -> Sum {
        let mut numerators = Vec::new();
        let mut denominators = Vec::new();
        let mut scale = Term::constant(1.0);
        let mut stack = vec![(root, false)];
        while let Some((x, inverted)) = stack.pop() {
            match self.g.node(x) {
                Node::ElemMul(p, q) if self.g.shape(p) == self.g.shape(q) => {
                    stack.push((q, inverted));
                    stack.push((p, inverted));
                    continue;
                }
                Node::ElemDiv(p, q) if self.g.shape(p) == self.g.shape(q) => {
                    stack.push((q, !inverted));
                    stack.push((p, inverted));
                    continue;
                }
                _ => {}
            }
            let s = self.expand(x);
            let Some(t) = self.single(s, x) else {
                // A zero numerator makes the product zero (a zero denominator is
                // left for evaluation to report).
                if inverted {
                    continue;
                }
                return Vec::new();
            };
            let outer = Term {
                coef: t.coef,
                scalars: t.scalars.clone(),
                chain: Vec::new(),
            };
            let outer = if inverted {
                match self.invert_term(outer) {
                    Some(o) => o,
                    None => Term::constant(1.0),
                }
            } else {
                outer
            };
            scale = self.merge(&scale, &outer);
            if t.chain.is_empty() {
                continue;
            }
            let node = self.build_chain(&t.chain);
            if is_all_ones(self.g, node) {
                continue;
            }
            if inverted {
                denominators.push(node);
            } else {
                numerators.push(node);
            }
        }
        // Powers of the same base merge above and below the line: `a ./ a` cancels,
        // `q ./ q.^2` is `1 ./ q`, `x .* x.^2` is `x.^3`.
        let (numerators, denominators) = self.merge_powers(numerators, denominators);
        let (mut numerators, mut denominators) = self.merge_quotients(numerators, denominators);
        // relu(u) .* step(u) = relu(u): step is 1 wherever relu is not 0.
        let relu_args: Vec<Id> = numerators
            .iter()
            .filter_map(|&n| match self.g.node(n) {
                Node::Apply(Func::Relu, u) => Some(u),
                _ => None,
            })
            .collect();
        numerators.retain(
            |&n| !matches!(self.g.node(n), Node::Apply(Func::Step, u) if relu_args.contains(&u)),
        );
        numerators.sort_by(|&x, &y| self.compare(x, y));
        denominators.sort_by(|&x, &y| self.compare(x, y));
        let shape = self.g.shape(root);
        let num = self.elementwise_chain(&numerators);
        let den = self.elementwise_chain(&denominators);
        let body = match (num, den) {
            (None, None) => {
                let o = ones_of(self.g, shape);
                return vec![self.merge(&scale, &Term::factor(o))];
            }
            (Some(n), None) => n,
            (n, Some(d)) => {
                let n = match n {
                    Some(n) => n,
                    None => self.g.constant(1.0),
                };
                self.g.add(Node::ElemDiv(n, d))
            }
        };
        let body = Term::factor(body);
        vec![self.merge(&scale, &body)]
    }

    /// Adds the constant exponents of equal bases (`b` is `b.^1`, a denominator
    /// counts negative) and writes each base once, above or below the line.
    fn merge_powers(&mut self, numerators: Vec<Id>, denominators: Vec<Id>) -> (Vec<Id>, Vec<Id>) {
        let mut powers: Vec<(Id, f64)> = Vec::new();
        let split = |g: &Graph, x: Id| match g.node(x) {
            Node::ElemPow(b, k) => match g.const_value(k) {
                Some(k) => (b, k),
                None => (x, 1.0),
            },
            _ => (x, 1.0),
        };
        let signed = numerators
            .iter()
            .map(|&x| (x, 1.0))
            .chain(denominators.iter().map(|&x| (x, -1.0)));
        for (x, sign) in signed {
            let (base, k) = split(self.g, x);
            match powers.iter_mut().find(|(b, _)| *b == base) {
                Some(entry) => entry.1 += sign * k,
                None => powers.push((base, sign * k)),
            }
        }
        let mut num = Vec::new();
        let mut den = Vec::new();
        for (base, k) in powers {
            if k == 0.0 {
                continue;
            }
            let node = if k.abs() == 1.0 {
                base
            } else {
                let e = self.g.constant(k.abs());
                self.g.add(Node::ElemPow(base, e))
            };
            if k > 0.0 {
                num.push(node);
            } else {
                den.push(node);
            }
        }
        (num, den)
    }

    /// Quotients that are functions of their own: `sinh(u) ./ cosh(u) = tanh(u)` and
    /// `sin(u) ./ cos(u) = tan(u)`, a numerator meeting its denominator of the same
    /// argument.
    fn merge_quotients(&mut self, mut num: Vec<Id>, mut den: Vec<Id>) -> (Vec<Id>, Vec<Id>) {
        const QUOTIENTS: [(Func, Func, Func); 2] = [
            (Func::Sinh, Func::Cosh, Func::Tanh),
            (Func::Sin, Func::Cos, Func::Tan),
        ];
        for (top, bottom, quotient) in QUOTIENTS {
            let mut i = 0;
            while i < num.len() {
                let Node::Apply(f, u) = self.g.node(num[i]) else {
                    i += 1;
                    continue;
                };
                let below = den
                    .iter()
                    .position(|&d| self.g.node(d) == Node::Apply(bottom, u));
                match below {
                    Some(j) if f == top => {
                        den.remove(j);
                        num[i] = self.g.apply(quotient, u);
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        (num, den)
    }

    fn elementwise_chain(&mut self, operands: &[Id]) -> Option<Id> {
        let mut it = operands.iter().copied();
        let mut node = it.next()?;
        for o in it {
            node = self.g.add(Node::ElemMul(node, o));
        }
        Some(node)
    }

    /// `1/t` of a scalar term; `None` for one.
    fn invert_term(&mut self, t: Term) -> Option<Term> {
        let mut t = t;
        t.coef = 1.0 / t.coef;
        for s in &mut t.scalars {
            s.1 = -s.1;
        }
        if t.coef == 1.0 && t.scalars.is_empty() {
            None
        } else {
            Some(t)
        }
    }

    fn expand_inner(&mut self, a: Id, b: Id) -> Sum {
        let sa = self.expand(a);
        let sb = self.expand(b);
        let (Some(ta), Some(tb)) = (self.single(sa, a), self.single(sb, b)) else {
            return Vec::new();
        };
        let mut scale = Term {
            coef: ta.coef * tb.coef,
            scalars: ta.scalars.clone(),
            chain: Vec::new(),
        };
        for &(s, e) in &tb.scalars {
            add_exponent(&mut scale.scalars, s, e);
        }
        if ta.chain.is_empty() || tb.chain.is_empty() {
            // An operand was a scalar after all: <s, t> = s t.
            let mut t = self.merge(
                &scale,
                &Term {
                    coef: 1.0,
                    scalars: Vec::new(),
                    chain: ta.chain.clone(),
                },
            );
            t = self.merge(
                &t,
                &Term {
                    coef: 1.0,
                    scalars: Vec::new(),
                    chain: tb.chain.clone(),
                },
            );
            return vec![t];
        }
        let shape = self.g.shape(a);
        let inner = if shape.cols == Dim::ONE && !self.keep_inner {
            // Vectors: <u, v> = u'*v.
            let mut chain: Vec<Id> = Vec::new();
            let ut = Term {
                coef: 1.0,
                scalars: Vec::new(),
                chain: ta.chain.clone(),
            };
            let ut = self.transpose_term(ut);
            chain.extend(ut.chain);
            chain.extend(tb.chain.iter().copied());
            self.build_chain(&chain)
        } else {
            let x = self.build_chain(&ta.chain);
            let y = self.build_chain(&tb.chain);
            // The differential goes last (<A, dX>), otherwise a stable order.
            let (dx, dy) = (self.has_differential(x), self.has_differential(y));
            // <I, A> = tr(A) and <1 1', A> = sum(A) (not in a differential form, whose
            // gradient is read off the inner product).
            if !dx && !dy {
                let reduced = [(x, y), (y, x)].into_iter().find_map(|(p, q)| {
                    if matches!(self.g.node(p), Node::Eye(_)) {
                        Some((Func::Tr, q))
                    } else if is_all_ones_matrix(self.g, p) {
                        Some((Func::Sum, q))
                    } else {
                        None
                    }
                });
                if let Some((f, q)) = reduced {
                    let node = self.g.apply(f, q);
                    let body = self.expand(node);
                    return body.iter().map(|t| self.merge(&scale, t)).collect();
                }
            }
            let (x, y) = if (dx && !dy) || (dx == dy && self.compare(x, y) == Ordering::Greater) {
                (y, x)
            } else {
                (x, y)
            };
            self.g.add(Node::Inner(x, y))
        };
        let body = Term::scalar(inner, 1);
        vec![self.merge(&scale, &body)]
    }

    fn expand_apply(&mut self, id: Id, f: Func, a: Id) -> Sum {
        let arg = self.simplify(a);
        let arg_node = self.g.node(arg);
        let scalar_arg = self.is_scalar(arg);
        match f {
            Func::Tr | Func::Sum if scalar_arg => return self.expand(arg),
            // A vector is its own vec (a row's is its transpose).
            Func::Vec
                if self.g.shape(arg).cols == Dim::ONE || self.g.shape(arg).rows == Dim::ONE =>
            {
                let v = self.g.vec(arg);
                return self.expand(v);
            }
            // Linear functions take scalars out: sum(-y) = -sum(y).
            Func::Tr | Func::Sum | Func::Diag | Func::Vec => {
                let s = self.expand(arg);
                if let [t] = s.as_slice() {
                    if t.coef != 1.0 || !t.scalars.is_empty() {
                        let body = self.build_chain(&t.chain.clone());
                        let applied = self.g.apply(f, body);
                        let scale = Term {
                            coef: t.coef,
                            scalars: t.scalars.clone(),
                            chain: Vec::new(),
                        };
                        let inner = self.expand(applied);
                        return inner.iter().map(|x| self.merge(&scale, x)).collect();
                    }
                }
            }
            _ => {}
        }
        match f {
            // det(X^k) = det(X)^k, logdet(X^k) = k logdet(X), inv(X^k) = inv(X)^k.
            Func::Det | Func::Logdet | Func::Inv
                if matches!(arg_node, Node::Pow(x, k)
                    if !self.is_scalar(x) && self.g.const_value(k).is_some()) =>
            {
                let Node::Pow(x, k) = arg_node else {
                    unreachable!("matched above")
                };
                let inner = self.g.apply(f, x);
                let node = match f {
                    Func::Logdet => self.g.add(Node::Mul(k, inner)),
                    _ => self.g.add(Node::Pow(inner, k)),
                };
                return self.expand(node);
            }
            // diag(u*v') = u .* v for vectors u, v.
            Func::Diag if !scalar_arg => {
                if let Node::Mul(u, vt) = arg_node {
                    if let Node::Transpose(v) = self.g.node(vt) {
                        let column = |x: Id| {
                            let s = self.g.shape(x);
                            s.cols == Dim::ONE && s.rows != Dim::ONE
                        };
                        if column(u) && column(v) {
                            let node = self.g.add(Node::ElemMul(u, v));
                            return self.expand(node);
                        }
                    }
                }
            }
            _ => {}
        }
        match f {
            Func::Det | Func::Logdet | Func::Tr => {
                if let Node::Transpose(inner) = arg_node {
                    let node = self.g.apply(f, inner);
                    return self.atom_term(node);
                }
            }
            Func::Inv => match arg_node {
                Node::Apply(Func::Inv, inner) => return self.expand(inner),
                Node::Transpose(inner) => {
                    let inv = self.g.apply(Func::Inv, inner);
                    let t = self.transpose_factor(inv);
                    return self.atom_term(t);
                }
                _ if scalar_arg => {
                    let one = self.g.constant(1.0);
                    let d = self.g.add(Node::Div(one, arg));
                    return self.expand(d);
                }
                _ => {}
            },
            Func::Diag if scalar_arg => return self.expand(arg),
            _ => {}
        }
        let node = if arg == a { id } else { self.g.apply(f, arg) };
        self.atom_term(node)
    }

    // ----- transposition --------------------------------------------------------

    fn transpose_term(&mut self, mut t: Term) -> Term {
        if t.chain.is_empty() {
            return t;
        }
        if self.chain_is_scalar(&t.chain) && t.chain.len() == 1 {
            return t;
        }
        // (AB)' = B'A': reverse the chain and transpose each factor.
        let mut chain = Vec::with_capacity(t.chain.len());
        for &f in t.chain.iter().rev() {
            chain.push(self.transpose_factor(f));
        }
        t.chain = chain;
        t
    }

    /// The transpose of one factor, pushed as far in as it goes.
    fn transpose_factor(&mut self, f: Id) -> Id {
        let g = &mut *self.g;
        if g.shape(f).is_scalar() {
            return f;
        }
        match g.node(f) {
            Node::Transpose(inner) => inner,
            Node::Eye(_) => f,
            Node::Var(s) if g.variable(s).is_some_and(|v| v.kind.is_symmetric()) => f,
            Node::Apply(Func::Diag, v) if g.shape(v).cols == Dim::ONE => f,
            Node::Apply(Func::Inv, a) | Node::Apply(Func::Logdet, a) if is_symmetric(g, a) => f,
            Node::Add(a, b) if g.shape(a) == g.shape(b) => {
                // (A + A')' is A + A' again; other sums keep their transpose outside.
                // (A broadcast sum such as `1 - s` falls through: it is one factor.)
                let t = g.add(Node::Transpose(f));
                let shape = g.shape(t);
                let s: Sum = self
                    .expand(f)
                    .into_iter()
                    .map(|term| self.transpose_term(term))
                    .collect();
                let distributed = self.rebuild(s, shape);
                if distributed == f {
                    f
                } else {
                    t
                }
            }
            Node::ElemMul(a, b) if g.shape(a) == g.shape(b) => {
                let at = self.transpose_factor(a);
                let bt = self.transpose_factor(b);
                let node = self.g.add(Node::ElemMul(at, bt));
                self.simplify(node)
            }
            _ => {
                if is_symmetric(g, f) {
                    f
                } else {
                    g.add(Node::Transpose(f))
                }
            }
        }
    }

    // ----- rebuilding -------------------------------------------------------------

    fn rebuild(&mut self, sum: Sum, shape: Shape) -> Id {
        let sum: Sum = sum
            .into_iter()
            .map(|t| self.merge_scalar_powers(t))
            .collect();
        let sum = self.collect(sum);
        let sum = self.distribute_twins(sum);
        let sum = self.complementary_sigmoids(sum, shape);
        let sum = self.factor(sum);
        let mut sum = sum;
        sum.sort_by(|x, y| self.compare_terms(x, y));
        if sum.is_empty() {
            return self.g.zeros(shape);
        }
        // Identical scalar parts on every term come out in front: (a + b)/2.
        if sum.len() >= 2
            && sum.iter().all(|t| t.same_scalars(&sum[0]))
            && !(sum[0].coef.abs() == 1.0 && sum[0].scalars.is_empty())
        {
            let common = Term {
                coef: sum[0].coef,
                scalars: sum[0].scalars.clone(),
                chain: Vec::new(),
            };
            let inner: Sum = sum
                .iter()
                .map(|t| Term {
                    coef: 1.0,
                    scalars: Vec::new(),
                    chain: t.chain.clone(),
                })
                .collect();
            let node = self.build_sum(&inner);
            let body = if self.is_scalar(node) {
                Term::scalar(node, 1)
            } else {
                Term::factor(node)
            };
            let t = self.merge(&common, &body);
            return self.build_term(&t);
        }
        // The same scalar factors on every term, with different coefficients, are
        // collected too: X/‖r‖ − A/‖r‖ = (X − A)/‖r‖.
        if sum.len() >= 2
            && !sum[0].scalars.is_empty()
            && sum
                .iter()
                .all(|t| t.scalars == sum[0].scalars && !t.chain.is_empty())
        {
            let common = Term {
                coef: 1.0,
                scalars: sum[0].scalars.clone(),
                chain: Vec::new(),
            };
            let inner: Sum = sum
                .iter()
                .map(|t| Term {
                    coef: t.coef,
                    scalars: Vec::new(),
                    chain: t.chain.clone(),
                })
                .collect();
            let node = self.build_sum(&inner);
            let t = self.merge(&common, &Term::factor(node));
            return self.build_term(&t);
        }
        self.build_sum(&sum)
    }

    fn build_sum(&mut self, sum: &[Term]) -> Id {
        let mut acc: Option<Id> = None;
        for t in sum {
            acc = Some(match acc {
                None => self.build_term(t),
                Some(prev) => {
                    if t.coef < 0.0 {
                        let pos = Term {
                            coef: -t.coef,
                            ..t.clone()
                        };
                        let node = self.build_term(&pos);
                        let n = self.g.add(Node::Neg(node));
                        self.g.add(Node::Add(prev, n))
                    } else {
                        let node = self.build_term(t);
                        self.g.add(Node::Add(prev, node))
                    }
                }
            });
        }
        acc.unwrap_or_else(|| self.g.constant(0.0))
    }

    /// Like terms: equal scalar factors and chains add their coefficients.
    fn collect(&mut self, sum: Sum) -> Sum {
        let mut out: Sum = Vec::new();
        for t in sum {
            if let Some(existing) = out
                .iter_mut()
                .find(|o| o.scalars == t.scalars && o.chain == t.chain)
            {
                existing.coef += t.coef;
            } else {
                out.push(t);
            }
        }
        out.retain(|t| t.coef != 0.0);
        out
    }

    /// A transposed sum `(A + B)'` stays one factor, unless opening it lets its
    /// terms meet their twins: `S*x + (x'*S - a')'` is `2*S*x - a` for a symmetric
    /// `S`. The sum is opened when at least one of its terms merges with another.
    fn distribute_twins(&mut self, mut sum: Sum) -> Sum {
        let mut i = 0;
        while i < sum.len() {
            let opened = match sum[i].chain.as_slice() {
                [f] => match self.g.node(*f) {
                    Node::Transpose(inner) if matches!(self.g.node(inner), Node::Add(..)) => {
                        let outside = Term {
                            chain: Vec::new(),
                            ..sum[i].clone()
                        };
                        let parts: Sum = self
                            .expand(inner)
                            .into_iter()
                            .map(|t| {
                                let t = self.transpose_term(t);
                                self.merge(&outside, &t)
                            })
                            .collect();
                        let mut candidate: Sum = sum[..i].to_vec();
                        candidate.extend(sum[i + 1..].iter().cloned());
                        let count = candidate.len() + parts.len();
                        candidate.extend(parts);
                        let candidate = self.collect(candidate);
                        (candidate.len() < count).then_some(candidate)
                    }
                    _ => None,
                },
                _ => None,
            };
            match opened {
                Some(candidate) => {
                    sum = candidate;
                    i = 0;
                }
                None => i += 1,
            }
        }
        sum
    }

    /// `sigmoid(-u) = 1 - sigmoid(u)`, used where both appear in one sum of
    /// elementwise products: every term is multiplied out (`sigmoid(-u)` as
    /// `1 - sigmoid(u)`, a broadcast `1 - y` as its two terms), like products are
    /// collected, and the result is kept when it prints shorter. So the gradient of the
    /// binary cross-entropy, `sigmoid(z) .* (1 - y) - y .* sigmoid(-z)`, is
    /// `sigmoid(z) - y`.
    fn complementary_sigmoids(&mut self, sum: Sum, shape: Shape) -> Sum {
        if sum.len() < 2
            || shape.is_scalar()
            || sum
                .iter()
                .any(|t| !t.scalars.is_empty() || t.chain.len() != 1)
        {
            return sum;
        }
        // Each term's elementwise factors.
        let factors: Vec<Vec<Id>> = sum
            .iter()
            .map(|t| {
                let mut out = Vec::new();
                let mut stack = vec![t.chain[0]];
                while let Some(x) = stack.pop() {
                    match self.g.node(x) {
                        Node::ElemMul(p, q) if self.g.shape(p) == self.g.shape(q) => {
                            stack.push(q);
                            stack.push(p);
                        }
                        _ => out.push(x),
                    }
                }
                out
            })
            .collect();
        // The sigmoids whose argument is a negation, with the sigmoid of the
        // argument itself, when that one appears too.
        let sigmoids: Vec<Id> = factors
            .iter()
            .flatten()
            .copied()
            .filter(|&f| matches!(self.g.node(f), Node::Apply(Func::Sigmoid, _)))
            .collect();
        let mut complements: Vec<(Id, Id)> = Vec::new();
        for &f in &sigmoids {
            let Node::Apply(Func::Sigmoid, arg) = self.g.node(f) else {
                continue;
            };
            let Some(pos) = self.negated(arg) else {
                continue;
            };
            let positive = self.g.apply(Func::Sigmoid, pos);
            if sigmoids.contains(&positive) && !complements.iter().any(|&(n, _)| n == f) {
                complements.push((f, positive));
            }
        }
        if complements.is_empty() {
            return sum;
        }
        // Multiply out: a product of (coefficient, factors) pairs.
        let mut expanded: Vec<(f64, Vec<Id>)> = Vec::new();
        for (t, fs) in sum.iter().zip(&factors) {
            let mut partial: Vec<(f64, Vec<Id>)> = vec![(t.coef, Vec::new())];
            for &f in fs {
                let options: Vec<(f64, Option<Id>)> =
                    if let Some(&(_, positive)) = complements.iter().find(|&&(n, _)| n == f) {
                        vec![(1.0, None), (-1.0, Some(positive))]
                    } else if let Node::Add(a, b) = self.g.node(f) {
                        if is_one_like(self.g, a) {
                            match self.g.node(b) {
                                Node::Neg(y) => vec![(1.0, None), (-1.0, Some(y))],
                                _ => vec![(1.0, None), (1.0, Some(b))],
                            }
                        } else {
                            vec![(1.0, Some(f))]
                        }
                    } else {
                        vec![(1.0, Some(f))]
                    };
                partial = partial
                    .into_iter()
                    .flat_map(|(c, p)| {
                        options.iter().map(move |&(k, o)| {
                            let mut p = p.clone();
                            p.extend(o);
                            (c * k, p)
                        })
                    })
                    .collect();
            }
            expanded.extend(partial);
        }
        // Like products collect.
        let mut collected: Vec<(f64, Vec<Id>)> = Vec::new();
        for (c, mut p) in expanded {
            p.sort_by(|&x, &y| self.compare(x, y));
            match collected.iter_mut().find(|(_, q)| *q == p) {
                Some(existing) => existing.0 += c,
                None => collected.push((c, p)),
            }
        }
        collected.retain(|(c, _)| *c != 0.0);
        let multiplied: Sum = collected
            .into_iter()
            .map(|(c, p)| {
                let node = match self.elementwise_chain(&p) {
                    Some(n) => n,
                    None => ones_of(self.g, shape),
                };
                Term {
                    coef: c,
                    scalars: Vec::new(),
                    chain: vec![node],
                }
            })
            .collect();
        let before = self.build_sum(&sum);
        let after = self.build_sum(&multiplied);
        if crate::print::token_count(self.g, after) < crate::print::token_count(self.g, before) {
            multiplied
        } else {
            sum
        }
    }

    /// Groups terms that share a leading or trailing factor.
    fn factor(&mut self, mut sum: Sum) -> Sum {
        loop {
            let Some((side, factor, members)) = self.best_group(&sum) else {
                return sum;
            };
            let group: Vec<Term> = members.iter().map(|&i| sum[i].clone()).collect();
            let common_scalars = group.iter().all(|t| t.same_scalars(&group[0]));
            let mut inner: Sum = Vec::new();
            for t in &group {
                let mut rest = t.clone();
                match side {
                    Side::Left => {
                        rest.chain.remove(0);
                    }
                    Side::Right => {
                        rest.chain.pop();
                    }
                }
                if common_scalars {
                    rest.coef = 1.0;
                    rest.scalars.clear();
                }
                inner.push(rest);
            }
            let first = &group[0];
            let shape_rest = {
                let r = &inner[0].chain;
                let rows = self.g.shape(r[0]).rows;
                let cols = self.g.shape(r[r.len() - 1]).cols;
                Shape::new(rows, cols)
            };
            let inner_node = self.rebuild(inner, shape_rest);
            let mut new_term = Term {
                coef: if common_scalars { first.coef } else { 1.0 },
                scalars: if common_scalars {
                    first.scalars.clone()
                } else {
                    Vec::new()
                },
                chain: Vec::new(),
            };
            let inner_sum = self.expand(inner_node);
            let inner_term = self.single(inner_sum, inner_node);
            let Some(inner_term) = inner_term else {
                for &i in members.iter().rev() {
                    sum.remove(i);
                }
                continue;
            };
            let pieces = match side {
                Side::Left => [Term::factor(factor), inner_term],
                Side::Right => [inner_term, Term::factor(factor)],
            };
            new_term = self.merge(&new_term, &pieces[0]);
            new_term = self.merge(&new_term, &pieces[1]);
            let pos = members[0];
            for &i in members.iter().rev() {
                sum.remove(i);
            }
            sum.insert(pos.min(sum.len()), new_term);
        }
    }

    /// The largest group of terms (at least two) sharing a first or last chain
    /// factor, where every member keeps a non-empty rest.
    fn best_group(&self, sum: &Sum) -> Option<(Side, Id, Vec<usize>)> {
        let mut best: Option<(Side, Id, Vec<usize>)> = None;
        for side in [Side::Left, Side::Right] {
            for (i, t) in sum.iter().enumerate() {
                if t.chain.len() < 2 {
                    continue;
                }
                let f = match side {
                    Side::Left => t.chain[0],
                    Side::Right => t.chain[t.chain.len() - 1],
                };
                let members: Vec<usize> = sum
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| {
                        u.chain.len() >= 2
                            && match side {
                                Side::Left => u.chain[0] == f,
                                Side::Right => u.chain[u.chain.len() - 1] == f,
                            }
                    })
                    .map(|(j, _)| j)
                    .collect();
                if members.len() >= 2
                    && members[0] == i
                    && best.as_ref().is_none_or(|b| members.len() > b.2.len())
                {
                    // The rests must all have the same shape to be added.
                    best = Some((side, f, members));
                }
            }
        }
        best
    }

    /// A term as a node: scalars in front (`2/N*X'*r`), or as a denominator when
    /// the numerator is a bare chain (`x/norm2(x)`).
    fn build_term(&mut self, t: &Term) -> Id {
        let negative = t.coef < 0.0;
        let mut coef = t.coef.abs();
        let mut den_coef = 1.0;
        if coef != 1.0 && (1.0 / coef).fract() == 0.0 && coef < 1.0 {
            den_coef = 1.0 / coef;
            coef = 1.0;
        }
        let mut num_scalars: Vec<(Id, i32)> =
            t.scalars.iter().copied().filter(|s| s.1 > 0).collect();
        num_scalars.sort_by(|x, y| self.compare(x.0, y.0));
        let mut den_scalars: Vec<(Id, i32)> = t
            .scalars
            .iter()
            .copied()
            .filter(|s| s.1 < 0)
            .map(|(s, e)| (s, -e))
            .collect();
        den_scalars.sort_by(|x, y| self.compare(x.0, y.0));

        let mut den: Option<Id> = None;
        if den_coef != 1.0 {
            den = Some(self.g.constant(den_coef));
        }
        for &(s, e) in &den_scalars {
            let p = self.power(s, e);
            den = Some(match den {
                None => p,
                Some(d) => self.g.add(Node::Mul(d, p)),
            });
        }

        // `2/N*X'*r` when the denominator is a number or a dimension, else the
        // denominator goes last: `2*x/(x'*x)`, `x/norm2(x)`.
        let constant_like_den = den_scalars
            .iter()
            .all(|&(s, _)| matches!(self.g.node(s), Node::DimValue(_) | Node::Const(_)));
        let mut prefix: Option<Id> = None;
        if coef != 1.0 {
            prefix = Some(self.g.constant(coef));
        }
        // A numeric or dimension denominator goes with the coefficient: 2/N*….
        if constant_like_den && !num_scalars.is_empty() && t.chain.is_empty() {
            if let Some(d) = den.take() {
                let c = prefix.unwrap_or_else(|| self.g.constant(1.0));
                prefix = Some(self.g.add(Node::Div(c, d)));
            }
        }
        for &(s, e) in &num_scalars {
            let p = self.power(s, e);
            prefix = Some(match prefix {
                None => p,
                Some(x) => self.g.add(Node::Mul(x, p)),
            });
        }
        let chain_first_style = !t.chain.is_empty() && (prefix.is_none() || !constant_like_den);
        if chain_first_style {
            let mut factors = Vec::new();
            if let Some(p) = prefix {
                factors.push(p);
            }
            factors.extend(self.fold_runs(&t.chain));
            if negative {
                factors[0] = self.negate_factor(factors[0]);
            }
            let mut c = factors[0];
            for &f in &factors[1..] {
                c = self.g.add(Node::Mul(c, f));
            }
            match den {
                Some(d) => self.g.add(Node::Div(c, d)),
                None => c,
            }
        } else {
            let mut p = match prefix {
                Some(p) => p,
                None => self.g.constant(1.0),
            };
            if let Some(d) = den {
                p = self.g.add(Node::Div(p, d));
            }
            if negative {
                p = self.negate_factor(p);
            }
            let mut acc = p;
            for f in self.fold_runs(&t.chain) {
                acc = self.g.add(Node::Mul(acc, f));
            }
            acc
        }
    }

    fn power(&mut self, s: Id, e: i32) -> Id {
        if e == 1 {
            s
        } else {
            let k = self.g.constant(e as f64);
            self.g.add(Node::Pow(s, k))
        }
    }

    /// `-f`, spelled so that it prints as the textbook does: a constant becomes
    /// negative, an elementwise product negates its first operand.
    fn negate_factor(&mut self, f: Id) -> Id {
        match self.g.node(f) {
            Node::Const(c) => self.g.add(Node::Const(Real::new(-c.value()))),
            Node::Div(a, b) => {
                let na = self.negate_factor(a);
                self.g.add(Node::Div(na, b))
            }
            Node::Mul(a, b) if self.is_scalar(a) => {
                let na = self.negate_factor(a);
                self.g.add(Node::Mul(na, b))
            }
            Node::ElemMul(a, b) => {
                let na = self.negate_factor(a);
                self.g.add(Node::ElemMul(na, b))
            }
            Node::ElemDiv(a, b) if self.g.shape(a) == self.g.shape(b) => {
                let na = self.negate_factor(a);
                self.g.add(Node::ElemDiv(na, b))
            }
            _ => self.g.add(Node::Neg(f)),
        }
    }

    /// The left-nested product of a chain, with runs of an equal square factor
    /// written as a power: `X*X` → `X^2`, `X'*X'` → `(X^2)'`.
    fn build_chain(&mut self, chain: &[Id]) -> Id {
        let factors = self.fold_runs(chain);
        let mut acc = factors[0];
        for &f in &factors[1..] {
            acc = self.g.add(Node::Mul(acc, f));
        }
        acc
    }

    fn fold_runs(&mut self, chain: &[Id]) -> Vec<Id> {
        let mut factors: Vec<Id> = Vec::with_capacity(chain.len());
        let mut i = 0;
        while i < chain.len() {
            let f = chain[i];
            let mut run = 1;
            while i + run < chain.len() && chain[i + run] == f && self.g.shape(f).is_square() {
                run += 1;
            }
            if run == 1 {
                factors.push(f);
            } else {
                let k = self.g.constant(run as f64);
                factors.push(match self.g.node(f) {
                    Node::Transpose(base) => {
                        let p = self.g.add(Node::Pow(base, k));
                        self.g.add(Node::Transpose(p))
                    }
                    _ => self.g.add(Node::Pow(f, k)),
                });
            }
            i += run;
        }
        factors
    }

    // ----- ordering ---------------------------------------------------------------

    fn compare_terms(&mut self, x: &Term, y: &Term) -> Ordering {
        let neg = (x.coef < 0.0).cmp(&(y.coef < 0.0));
        if neg != Ordering::Equal {
            return neg;
        }
        let g = &*self.g;
        KeyIter::new(g, term_key(x)).cmp(KeyIter::new(g, term_key(y)))
    }

    /// Orders nodes by their structural sort key ([`key_parts`]), then by id.
    fn compare(&mut self, x: Id, y: Id) -> Ordering {
        if let Some(&order) = self.keys.get(&(x, y)) {
            return order;
        }
        let g = &*self.g;
        let order = KeyIter::new(g, vec![KeyPart::Of(x)])
            .cmp(KeyIter::new(g, vec![KeyPart::Of(y)]))
            .then(x.cmp(&y));
        self.keys.insert((x, y), order);
        order
    }
}

/// A piece of a sort key: a number, or the whole key of a node.
///
/// A node's key is the sequence its tree spells out, so it is as long as the node's
/// tree, not its shared graph: keys are never built whole but read lazily, part by
/// part, and compared as they are read.
#[derive(Clone, Copy, Debug)]
enum KeyPart {
    Lit(u32),
    Of(Id),
}

/// The key of a term: its chain's keys, 0, then each scalar factor's key and exponent.
fn term_key(t: &Term) -> Vec<KeyPart> {
    let mut parts: Vec<KeyPart> = t.chain.iter().map(|&f| KeyPart::Of(f)).collect();
    parts.push(KeyPart::Lit(0));
    for &(s, e) in &t.scalars {
        parts.push(KeyPart::Of(s));
        parts.push(KeyPart::Lit(e.unsigned_abs()));
    }
    parts
}

/// The parts of a node's structural sort key: variables by first appearance, then
/// products, elementwise products, functions; a transpose sorts right after its
/// operand.
fn key_parts(g: &Graph, id: Id, out: &mut Vec<KeyPart>) {
    use KeyPart::{Lit, Of};
    match g.node(id) {
        Node::Const(c) => out.extend([Lit(1), Lit((c.value().abs() * 1000.0) as u32)]),
        Node::Zeros(_) => out.push(Lit(2)),
        Node::Eye(_) => out.push(Lit(3)),
        Node::Ones(_) => out.push(Lit(4)),
        Node::Var(s) => out.extend([Lit(10), Lit(s.0)]),
        Node::DimValue(s) => out.extend([Lit(11), Lit(s.0)]),
        // Differentials sort last: <X*w - y, dw>.
        Node::Differential(s) => out.extend([Lit(200), Lit(s.0)]),
        Node::DifferentialOf(a) => out.extend([Lit(201), Of(a)]),
        Node::Transpose(a) => out.extend([Of(a), Lit(90)]),
        Node::Neg(a) => out.extend([Of(a), Lit(95)]),
        Node::Pow(a, b) => out.extend([Of(a), Lit(80), Of(b)]),
        Node::Inner(a, b) => out.extend([Lit(35), Of(a), Of(b)]),
        Node::Mul(a, b) => out.extend([Lit(40), Of(a), Of(b)]),
        Node::ElemMul(a, b) => out.extend([Lit(45), Of(a), Of(b)]),
        Node::ElemDiv(a, b) => out.extend([Lit(46), Of(a), Of(b)]),
        Node::ElemPow(a, b) => out.extend([Lit(47), Of(a), Of(b)]),
        Node::Apply(f, a) => out.extend([Lit(50), Lit(f as u32), Of(a)]),
        Node::Kron(a, b) => out.extend([Lit(48), Of(a), Of(b)]),
        Node::Div(a, b) => out.extend([Lit(70), Of(a), Of(b)]),
        Node::Add(a, b) => out.extend([Lit(60), Of(a), Of(b)]),
    }
}

/// The numbers of a key, read lazily: memory grows with the depth of the tree, not
/// its size.
struct KeyIter<'g> {
    g: &'g Graph,
    /// Parts still to read, the next one last.
    stack: Vec<KeyPart>,
    scratch: Vec<KeyPart>,
}

impl<'g> KeyIter<'g> {
    fn new(g: &'g Graph, mut parts: Vec<KeyPart>) -> KeyIter<'g> {
        parts.reverse();
        KeyIter {
            g,
            stack: parts,
            scratch: Vec::new(),
        }
    }
}

impl Iterator for KeyIter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            match self.stack.pop()? {
                KeyPart::Lit(v) => return Some(v),
                KeyPart::Of(id) => {
                    self.scratch.clear();
                    key_parts(self.g, id, &mut self.scratch);
                    self.stack.extend(self.scratch.drain(..).rev());
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// Splits off what every term shares: a coefficient of equal magnitude (negative
/// when every term is negative) and the scalar factors they all have.
fn common_content(mut s: Sum) -> (Term, Sum) {
    let mut content = Term::constant(1.0);
    if s.len() < 2 {
        return (content, s);
    }
    let magnitude = s[0].coef.abs();
    if s.iter().all(|t| t.coef.abs() == magnitude) {
        let sign = if s.iter().all(|t| t.coef < 0.0) {
            -1.0
        } else {
            1.0
        };
        content.coef = sign * magnitude;
        for t in &mut s {
            t.coef /= content.coef;
        }
    }
    let shared: Vec<(Id, i32)> = s[0]
        .scalars
        .iter()
        .copied()
        .filter(|f| s.iter().all(|t| t.scalars.contains(f)))
        .collect();
    for &(id, e) in &shared {
        for t in &mut s {
            add_exponent(&mut t.scalars, id, -e);
        }
        add_exponent(&mut content.scalars, id, e);
    }
    (content, s)
}

/// The value of a numeric expression (`-1/2` is `Div(Const(-1), Const(2))` once
/// simplified).
fn number(g: &Graph, id: Id) -> Option<f64> {
    match g.node(id) {
        Node::Const(c) => Some(c.value()),
        Node::Neg(a) => number(g, a).map(|v| -v),
        Node::Div(a, b) => Some(number(g, a)? / number(g, b)?),
        Node::Mul(a, b) => Some(number(g, a)? * number(g, b)?),
        _ => None,
    }
}

/// `ones(m)*ones(n)'`: the all-ones matrix.
fn is_all_ones_matrix(g: &Graph, id: Id) -> bool {
    matches!(g.node(id), Node::Mul(a, b)
        if matches!(g.node(a), Node::Ones(_))
            && matches!(g.node(b), Node::Transpose(t) if matches!(g.node(t), Node::Ones(_))))
}

/// The constant 1 or an all-ones value: the `1` of `1 - s`.
fn is_one_like(g: &Graph, id: Id) -> bool {
    g.const_value(id) == Some(1.0) || is_all_ones(g, id)
}

/// `a * b = I`: `inv(A)` next to `A`, in either order, or both transposed.
fn is_inverse_pair(g: &Graph, a: Id, b: Id) -> bool {
    match (g.node(a), g.node(b)) {
        (Node::Apply(Func::Inv, x), _) if x == b => true,
        (_, Node::Apply(Func::Inv, y)) if y == a => true,
        (Node::Transpose(x), Node::Transpose(y)) => is_inverse_pair(g, x, y),
        _ => false,
    }
}

/// `ones(n)`, `ones(n)'` or `ones(m)*ones(n)'`: a neutral factor of `.*`.
fn is_all_ones(g: &Graph, id: Id) -> bool {
    let ones = |x: Id| match g.node(x) {
        Node::Ones(_) => true,
        Node::Transpose(t) => matches!(g.node(t), Node::Ones(_)),
        _ => false,
    };
    match g.node(id) {
        Node::Mul(a, b) => ones(a) && ones(b),
        _ => ones(id),
    }
}

/// The all-ones value of a shape: `ones(n)` or `ones(m)*ones(n)'`.
fn ones_of(g: &mut Graph, shape: Shape) -> Id {
    let col = g.ones(shape.rows);
    if shape.cols == Dim::ONE {
        return col;
    }
    let row = g.ones(shape.cols);
    let row = g.add(Node::Transpose(row));
    g.add(Node::Mul(col, row))
}

fn add_exponent(scalars: &mut Vec<(Id, i32)>, s: Id, e: i32) {
    match scalars.binary_search_by(|p| p.0.cmp(&s)) {
        Ok(i) => {
            scalars[i].1 += e;
            if scalars[i].1 == 0 {
                scalars.remove(i);
            }
        }
        Err(i) => {
            if e != 0 {
                scalars.insert(i, (s, e));
            }
        }
    }
}

/// Whether an expression is structurally symmetric: a symmetric variable, the
/// identity, `A + A'`, `B' S B`, `inv` of a symmetric matrix, and so on.
pub fn is_symmetric(g: &Graph, id: Id) -> bool {
    let s = g.shape(id);
    if !s.is_square() {
        return false;
    }
    match g.node(id) {
        Node::Var(v) => g.variable(v).is_some_and(|v| v.kind.is_symmetric()),
        Node::Eye(_) | Node::Zeros(_) | Node::Const(_) | Node::DimValue(_) => true,
        Node::Apply(Func::Diag, v) => g.shape(v).cols == Dim::ONE,
        Node::Apply(Func::Inv, a) => is_symmetric(g, a),
        Node::Apply(f, a) if f.is_elementwise() => is_symmetric(g, a),
        Node::Neg(a) | Node::Div(a, _) => is_symmetric(g, a),
        Node::Pow(a, _) => is_symmetric(g, a),
        Node::Add(a, b) => {
            (is_symmetric(g, a) && is_symmetric(g, b))
                || matches!(g.node(b), Node::Transpose(t) if t == a)
                || matches!(g.node(a), Node::Transpose(t) if t == b)
        }
        Node::ElemMul(a, b) | Node::ElemDiv(a, b) => is_symmetric(g, a) && is_symmetric(g, b),
        Node::Mul(a, b) => {
            if g.shape(a).is_scalar() {
                return is_symmetric(g, b);
            }
            if g.shape(b).is_scalar() {
                return is_symmetric(g, a);
            }
            // X X' and X' X, and B' S B.
            is_gram(g, a, b)
                || match g.node(a) {
                    Node::Mul(l, m) => is_gram(g, l, b) && is_symmetric(g, m),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// `l = r'` (so `l * r` is a Gram matrix).
fn is_gram(g: &Graph, l: Id, r: Id) -> bool {
    matches!(g.node(l), Node::Transpose(t) if t == r)
        || matches!(g.node(r), Node::Transpose(t) if t == l)
}
