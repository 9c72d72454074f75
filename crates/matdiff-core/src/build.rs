//! Small constructors for building derived expressions in a [`Graph`].
//!
//! They fold only what is certain (constants, zeros as `None`, ones); the
//! simplifier brings the result to textbook form afterwards.

use crate::ir::{Dim, Func, Graph, Id, Node, Real, Shape};

impl Graph {
    /// A scalar constant.
    pub fn constant(&mut self, v: f64) -> Id {
        self.add(Node::Const(Real::new(v)))
    }

    /// The constant value of a node, if it is one.
    pub fn const_value(&self, id: Id) -> Option<f64> {
        match self.node(id) {
            Node::Const(r) => Some(r.value()),
            _ => None,
        }
    }

    /// `a + b`.
    pub fn sum2(&mut self, a: Id, b: Id) -> Id {
        self.add(Node::Add(a, b))
    }

    /// `a - b`, spelled as `a + (-b)`.
    pub fn sub(&mut self, a: Id, b: Id) -> Id {
        let nb = self.neg(b);
        self.add(Node::Add(a, nb))
    }

    /// `-a`; a constant is negated in place and `--a` is `a`.
    pub fn neg(&mut self, a: Id) -> Id {
        match self.node(a) {
            Node::Const(r) => self.constant(-r.value()),
            Node::Neg(inner) => inner,
            _ => self.add(Node::Neg(a)),
        }
    }

    /// `a * b` (product or scaling), dropping a factor `1`.
    pub fn mul(&mut self, a: Id, b: Id) -> Id {
        if self.const_value(a) == Some(1.0) {
            return b;
        }
        if self.const_value(b) == Some(1.0) {
            return a;
        }
        self.add(Node::Mul(a, b))
    }

    /// `a / b` with `b` scalar.
    pub fn div(&mut self, a: Id, b: Id) -> Id {
        if self.const_value(b) == Some(1.0) {
            return a;
        }
        self.add(Node::Div(a, b))
    }

    /// `a ^ k` for a constant k.
    pub fn powi(&mut self, a: Id, k: f64) -> Id {
        if k == 1.0 {
            return a;
        }
        let k = self.constant(k);
        self.add(Node::Pow(a, k))
    }

    /// `a'`; transposing a scalar does nothing and `a''` is `a`.
    pub fn transpose(&mut self, a: Id) -> Id {
        if self.shape(a).is_scalar() {
            return a;
        }
        match self.node(a) {
            Node::Transpose(inner) => inner,
            _ => self.add(Node::Transpose(a)),
        }
    }

    /// `a .* b`.
    pub fn elem_mul(&mut self, a: Id, b: Id) -> Id {
        self.add(Node::ElemMul(a, b))
    }

    /// `a ./ b`.
    pub fn elem_div(&mut self, a: Id, b: Id) -> Id {
        self.add(Node::ElemDiv(a, b))
    }

    /// `<a, b>`.
    pub fn inner(&mut self, a: Id, b: Id) -> Id {
        if self.shape(a).is_scalar() && self.shape(b).is_scalar() {
            return self.mul(a, b);
        }
        self.add(Node::Inner(a, b))
    }

    /// `f(a)`.
    pub fn apply(&mut self, f: Func, a: Id) -> Id {
        self.add(Node::Apply(f, a))
    }

    /// `kron(a, b)`; a scalar factor is a scaling.
    pub fn kron(&mut self, a: Id, b: Id) -> Id {
        if self.shape(a).is_scalar() || self.shape(b).is_scalar() {
            return self.mul(a, b);
        }
        self.add(Node::Kron(a, b))
    }

    /// `vec(a)`: a column is its own `vec`, a row's is its transpose.
    pub fn vec(&mut self, a: Id) -> Id {
        let s = self.shape(a);
        if s.cols == Dim::ONE {
            a
        } else if s.rows == Dim::ONE {
            self.transpose(a)
        } else {
            self.apply(Func::Vec, a)
        }
    }

    /// The identity of size n; of size 1 it is the number 1.
    pub fn eye(&mut self, n: Dim) -> Id {
        if n == Dim::ONE {
            return self.constant(1.0);
        }
        self.add(Node::Eye(n))
    }

    /// The vector of ones of length n.
    pub fn ones(&mut self, n: Dim) -> Id {
        self.add(Node::Ones(n))
    }

    /// The zero matrix of a shape (a scalar zero is the constant 0).
    pub fn zeros(&mut self, shape: Shape) -> Id {
        if shape.is_scalar() {
            self.constant(0.0)
        } else {
            self.add(Node::Zeros(shape))
        }
    }

    /// Adds up optional terms; `None` is zero.
    pub fn add_opt(&mut self, a: Option<Id>, b: Option<Id>) -> Option<Id> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(self.sum2(a, b)),
        }
    }
}
