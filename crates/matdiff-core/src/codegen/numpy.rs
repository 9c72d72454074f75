//! NumPy code generation: a self-contained Python module with `f_and_grad`, a
//! `check_gradient` helper and a `__main__` block that checks the derivative on random
//! data.
//!
//! Conventions of the generated code:
//! - parameters are the function's variables in declaration / first-use order, so
//!   `f_and_grad(**inputs)` works; a name that is a Python keyword (`lambda`) gets a
//!   trailing underscore (`lambda_`), in the parameters and in the inputs' keys;
//! - a vector is a 1-D array of shape `(n,)`, a matrix a 2-D array, a scalar a float;
//! - dimension names are bound from the arguments' shapes and checked with assertions
//!   that name the variable and its expected shape; a dimension used as a number in
//!   the expression (`1/N`) is that int;
//! - the value is returned as a float (an array for a vector function), the gradient
//!   with the variable's shape, the Jacobian and Hessian as 2-D arrays.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::codegen::schedule::{is_leaf, Product, Recipe};
use crate::codegen::{data_needs, default_sizes, float_literal, CodegenError, Output, Target};
use crate::derivative::Derivative;
use crate::ir::{Dim, Func, Function, Id, Kind, Node, Shape, Sym};
use crate::print;

/// Operator precedences of the Python text, loosest first.
const ADD: u8 = 1;
const MUL: u8 = 2;
const UNARY: u8 = 3;
const POW: u8 = 4;
const ATOM: u8 = 5;

/// Python's reserved words: a variable with one of these names gets a trailing `_`.
const KEYWORDS: [&str; 36] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "np",
];

/// Names the generated module defines or uses.
const GENERATED: [&str; 17] = [
    "sys",
    "sigmoid",
    "softplus",
    "logsumexp",
    "softmax",
    "logdet",
    "step",
    "random_inputs",
    "random_spd",
    "random_symmetric",
    "random_shifted",
    "check_gradient",
    "f_and_grad",
    "value",
    "gradient",
    "jacobian",
    "hessian",
];

/// A Python identifier for a variable or dimension name.
pub fn python_name(name: &str) -> String {
    if KEYWORDS.contains(&name) || GENERATED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// The Python module for `f` and its derivative `d`: `f_and_grad`, `check_gradient`,
/// `random_inputs` and a `__main__` block that runs the check on random data and exits
/// with status 1 on a mismatch.
pub fn numpy(f: &Function, d: &Derivative) -> Result<String, CodegenError> {
    let target = Target::new(f, d)?;
    let mut gen = Py::new(&target);
    let body = gen.body();
    let mut out = String::new();
    gen.header(&mut out);
    gen.helpers(&mut out);
    out.push_str(&body);
    gen.random_inputs(&mut out);
    out.push_str(CHECK_GRADIENT);
    out.push_str(MAIN);
    Ok(out)
}

struct Py<'t> {
    t: &'t Target<'t>,
    names: Vec<Option<String>>,
    helpers: BTreeSet<&'static str>,
}

/// A value is a 1-D array when its shape is a column or a row.
fn is_1d(s: Shape) -> bool {
    s.is_column() || s.is_row()
}

impl<'t> Py<'t> {
    fn new(t: &'t Target<'t>) -> Py<'t> {
        Py {
            t,
            names: vec![None; t.graph.len()],
            helpers: BTreeSet::new(),
        }
    }

    fn name(&self, s: Sym) -> String {
        python_name(self.t.graph.name(s))
    }

    fn dim(&self, d: Dim) -> String {
        match d {
            Dim::Size(n) => n.to_string(),
            Dim::Named(s) => self.name(s),
        }
    }

    /// The dimensions of an array of this shape as NumPy sees it.
    fn array_dims(&self, s: Shape) -> Vec<Dim> {
        if s.is_scalar() {
            Vec::new()
        } else if s.is_column() {
            vec![s.rows]
        } else if s.is_row() {
            vec![s.cols]
        } else {
            vec![s.rows, s.cols]
        }
    }

    /// `(N, d)`, `(d,)`.
    fn shape_tuple(&self, s: Shape) -> String {
        let dims: Vec<String> = self
            .array_dims(s)
            .into_iter()
            .map(|d| self.dim(d))
            .collect();
        if dims.len() == 1 {
            format!("({},)", dims[0])
        } else {
            format!("({})", dims.join(", "))
        }
    }

    fn header(&self, out: &mut String) {
        let g = self.t.graph;
        let params: Vec<String> = g.variables().iter().map(|v| self.name(v.name)).collect();
        let symmetric: Vec<String> = g
            .variables()
            .iter()
            .filter(|v| v.kind.is_symmetric())
            .map(|v| format!("\"{}\", ", self.name(v.name)))
            .collect();
        let _ = writeln!(
            out,
            "\"\"\"f({}) = {} and its {} with respect to {}.\n",
            params.join(", "),
            print::text(g, self.t.value),
            self.t.output.name(),
            g.name(self.t.wrt.name),
        );
        let _ = writeln!(
            out,
            "Generated by `matdiff derive --format numpy`. Vectors are 1-D arrays of shape (n,),\n\
             matrices 2-D arrays, scalars floats. Run this file to check the {} against\n\
             central differences on random data.\n\"\"\"\n",
            self.t.output.name()
        );
        out.push_str("import sys\n\nimport numpy as np\n\n");
        let _ = writeln!(
            out,
            "# What f_and_grad returns after the value, the variable it is taken with respect to,\n\
             # and the variables whose directions are symmetric.\n\
             DERIVATIVE = \"{}\"\nWRT = \"{}\"\nSYMMETRIC = ({})\n",
            self.t.output.name(),
            self.name(self.t.wrt.name),
            symmetric.concat().trim_end(),
        );
    }

    fn helpers(&self, out: &mut String) {
        for h in &self.helpers {
            out.push('\n');
            out.push_str(match *h {
                "sigmoid" => SIGMOID,
                "softplus" => SOFTPLUS,
                "logsumexp" => LOGSUMEXP,
                "softmax" => SOFTMAX,
                "logdet" => LOGDET,
                "step" => STEP,
                _ => "",
            });
            out.push('\n');
        }
    }

    /// The parameters of `f_and_grad`: the variables, then `dX` for a differential form.
    fn parameter_names(&self) -> Vec<String> {
        let g = self.t.graph;
        let mut params: Vec<String> = g.variables().iter().map(|v| self.name(v.name)).collect();
        if self.t.output == Output::Differential {
            params.push(format!("d{}", self.name(self.t.wrt.name)));
        }
        params
    }

    fn body(&mut self) -> String {
        let g = self.t.graph;
        let params = self.parameter_names();
        let mut out = String::new();
        let _ = writeln!(out, "\ndef f_and_grad({}):", params.join(", "));
        let derivative_doc = match self.t.output {
            Output::Gradient => format!(
                "the gradient with respect to {} (its shape)",
                self.name(self.t.wrt.name)
            ),
            Output::Jacobian => "the Jacobian (rows = outputs)".to_string(),
            Output::Hessian => "the Hessian".to_string(),
            Output::Differential => format!(
                "its differential in the direction d{}",
                self.name(self.t.wrt.name)
            ),
        };
        let _ = writeln!(
            out,
            "    \"\"\"The value of f and {}.\n\n    {}: {}\n    \"\"\"",
            derivative_doc,
            self.t.output.name(),
            print::text(g, self.t.derivative)
        );
        self.parameters(&mut out);
        let value_root = self.t.value;
        let derivative_root = self.t.derivative;
        let schedule = &self.t.schedule;
        let mut temps = 0;
        for &id in schedule.order() {
            let node = g.node(id);
            let role = if id == value_root {
                Some("value".to_string())
            } else if id == derivative_root {
                Some(self.t.output.name().to_string())
            } else {
                None
            };
            if is_leaf(node) || (role.is_none() && !schedule.is_shared(g, id)) {
                continue;
            }
            let name = role.unwrap_or_else(|| {
                temps += 1;
                format!("t_{}", temps - 1)
            });
            let (text, _) = self.compute(id);
            let _ = writeln!(out, "    {name} = {text}");
            self.names[id.index()] = Some(name);
        }
        let d_name = self.t.output.name();
        if self.names[value_root.index()].is_none() {
            let (text, _) = self.expr(value_root);
            let _ = writeln!(out, "    value = {text}");
        }
        let d_text = if derivative_root == value_root {
            "value".to_string()
        } else if self.names[derivative_root.index()].is_none() {
            self.expr(derivative_root).0
        } else {
            String::new()
        };
        if !d_text.is_empty() {
            let _ = writeln!(out, "    {d_name} = {d_text}");
        }
        let value = if g.shape(value_root).is_scalar() {
            "float(value)".to_string()
        } else {
            "value".to_string()
        };
        let derivative = if g.shape(derivative_root).is_scalar() {
            format!("float({d_name})")
        } else {
            d_name.to_string()
        };
        let _ = writeln!(out, "    return {value}, {derivative}\n");
        out
    }

    /// Converts the arguments, binds the dimensions and asserts the shapes.
    fn parameters(&self, out: &mut String) {
        let g = self.t.graph;
        let mut bound: Vec<Sym> = Vec::new();
        for v in g.variables() {
            let name = self.name(v.name);
            if v.shape.is_scalar() {
                let _ = writeln!(out, "    {name} = float({name})");
                continue;
            }
            let dims = self.array_dims(v.shape);
            let tuple = self.shape_tuple(v.shape);
            let message = format!("\"{name} must have shape {tuple}\"");
            let _ = writeln!(out, "    {name} = np.asarray({name}, dtype=float)");
            let _ = writeln!(out, "    assert {name}.ndim == {}, {message}", dims.len());
            let mut fresh: Vec<(usize, Sym)> = Vec::new();
            for (axis, d) in dims.iter().enumerate() {
                if let Dim::Named(s) = *d {
                    if !bound.contains(&s) {
                        bound.push(s);
                        fresh.push((axis, s));
                    }
                }
            }
            if fresh.len() == dims.len() && dims.len() == 2 {
                let _ = writeln!(
                    out,
                    "    {}, {} = {name}.shape",
                    self.name(fresh[0].1),
                    self.name(fresh[1].1)
                );
            } else {
                for (axis, s) in &fresh {
                    let _ = writeln!(out, "    {} = {name}.shape[{axis}]", self.name(*s));
                }
            }
            if fresh.len() < dims.len() {
                let _ = writeln!(out, "    assert {name}.shape == {tuple}, {message}");
            }
            if v.kind.is_symmetric() {
                let _ = writeln!(
                    out,
                    "    assert np.allclose({name}, {name}.T), \"{name} must be symmetric\""
                );
            }
        }
        if self.t.output == Output::Differential {
            let x = self.name(self.t.wrt.name);
            let dx = format!("d{x}");
            let _ = writeln!(out, "    {dx} = np.asarray({dx}, dtype=float)");
            let _ = writeln!(
                out,
                "    assert np.shape({dx}) == np.shape({x}), \"{dx} must have the shape of {x}\""
            );
        }
    }

    fn expr(&mut self, id: Id) -> (String, u8) {
        match &self.names[id.index()] {
            Some(n) => (n.clone(), ATOM),
            None => self.compute(id),
        }
    }

    fn operand(&mut self, id: Id, min: u8) -> String {
        let (s, p) = self.expr(id);
        paren(s, p, min)
    }

    fn compute(&mut self, id: Id) -> (String, u8) {
        let g = self.t.graph;
        let recipe = self
            .t
            .schedule
            .recipe(id)
            .cloned()
            .unwrap_or(Recipe::Direct);
        match recipe {
            Recipe::Sub(a, b) => (
                format!("{} - {}", self.operand(a, ADD), self.operand(b, ADD + 1)),
                ADD,
            ),
            Recipe::MatPow(a, k) => (
                format!("np.linalg.matrix_power({}, {k})", self.operand(a, ADD)),
                ATOM,
            ),
            Recipe::Chain(chain) => {
                let mut parts: Vec<(String, u8)> = Vec::new();
                for &s in &chain.scalars {
                    parts.push(self.expr(s));
                }
                if let Some(p) = &chain.product {
                    parts.push(self.product(p));
                }
                let (text, prec) = match parts.len() {
                    0 => ("1.0".to_string(), ATOM),
                    1 => parts.pop().unwrap_or_default(),
                    _ => {
                        let texts: Vec<String> = parts
                            .into_iter()
                            .enumerate()
                            .map(|(k, (s, p))| paren(s, p, if k == 0 { MUL } else { MUL + 1 }))
                            .collect();
                        (texts.join(" * "), MUL)
                    }
                };
                if chain.negate {
                    (format!("-{}", paren(text, prec, UNARY)), UNARY)
                } else {
                    (text, prec)
                }
            }
            Recipe::Direct => self.direct(g.node(id)),
        }
    }

    fn product(&mut self, p: &Product) -> (String, u8) {
        let g = self.t.graph;
        match p {
            Product::Factor { id, transposed } => {
                if *transposed && !is_1d(g.shape(*id)) && !g.shape(*id).is_scalar() {
                    (format!("{}.T", self.operand(*id, ATOM)), ATOM)
                } else {
                    self.expr(*id)
                }
            }
            Product::Mul { lhs, rhs, .. } => {
                let (ls, rs) = (lhs.shape(g), rhs.shape(g));
                let (l, lp) = self.product(lhs);
                let (r, rp) = self.product(rhs);
                if ls.is_column() && rs.is_row() {
                    (format!("np.outer({l}, {r})"), ATOM)
                } else {
                    (
                        format!("{} @ {}", paren(l, lp, MUL), paren(r, rp, MUL + 1)),
                        MUL,
                    )
                }
            }
            Product::Solve { a, rhs } => {
                let a = self.expr(*a).0;
                let rhs = self.product(rhs).0;
                (format!("np.linalg.solve({a}, {rhs})"), ATOM)
            }
            Product::Inverse(a) => (format!("np.linalg.inv({})", self.expr(*a).0), ATOM),
        }
    }

    fn call(&mut self, f: &str, a: Id) -> (String, u8) {
        (format!("{f}({})", self.expr(a).0), ATOM)
    }

    fn binary(&mut self, a: Id, op: &str, b: Id, prec: u8) -> (String, u8) {
        let (lmin, rmin) = if prec == POW {
            (ATOM, UNARY)
        } else {
            (prec, prec + 1)
        };
        (
            format!("{} {op} {}", self.operand(a, lmin), self.operand(b, rmin)),
            prec,
        )
    }

    fn direct(&mut self, node: Node) -> (String, u8) {
        let g = self.t.graph;
        let scalar = |x: Id| g.shape(x).is_scalar();
        match node {
            Node::Const(r) => {
                let v = r.value();
                if v.is_finite() {
                    (float_literal(v), if v < 0.0 { UNARY } else { ATOM })
                } else {
                    (format!("float(\"{v}\")"), ATOM)
                }
            }
            Node::Var(s) => (self.name(s), ATOM),
            Node::Differential(s) => (format!("d{}", self.name(s)), ATOM),
            Node::DimValue(s) => (self.name(s), ATOM),
            Node::Eye(d) => (format!("np.eye({})", self.dim(d)), ATOM),
            Node::Ones(d) => (format!("np.ones({})", self.dim(d)), ATOM),
            Node::Zeros(s) if s.is_scalar() => ("0.0".to_string(), ATOM),
            Node::Zeros(s) => {
                let dims = self.array_dims(s);
                let text = if dims.len() == 1 {
                    self.dim(dims[0])
                } else {
                    self.shape_tuple(s)
                };
                (format!("np.zeros({text})"), ATOM)
            }
            Node::Add(a, b) => self.binary(a, "+", b, ADD),
            Node::Neg(a) => (format!("-{}", self.operand(a, UNARY)), UNARY),
            Node::Mul(a, b) | Node::ElemMul(a, b) => self.binary(a, "*", b, MUL),
            Node::Div(a, b) | Node::ElemDiv(a, b) => self.binary(a, "/", b, MUL),
            Node::Pow(a, b) | Node::ElemPow(a, b) => self.binary(a, "**", b, POW),
            Node::Transpose(a) => {
                if is_1d(g.shape(a)) || scalar(a) {
                    self.expr(a)
                } else {
                    (format!("{}.T", self.operand(a, ATOM)), ATOM)
                }
            }
            Node::Inner(a, b) if scalar(a) && scalar(b) => self.binary(a, "*", b, MUL),
            Node::Inner(a, b) => {
                let (a, b) = (self.expr(a).0, self.expr(b).0);
                (format!("np.vdot({a}, {b})"), ATOM)
            }
            Node::Apply(f, a) => self.apply(f, a),
            Node::DifferentialOf(a) => self.expr(a),
        }
    }

    fn apply(&mut self, f: Func, a: Id) -> (String, u8) {
        let g = self.t.graph;
        if g.shape(a).is_scalar() {
            // Matrix functions of a 1 × 1 argument are functions of a number.
            match f {
                Func::Tr | Func::Det | Func::Diag => return self.expr(a),
                Func::Inv => return (format!("1.0 / {}", self.operand(a, MUL + 1)), MUL),
                Func::Logdet => return self.call("np.log", a),
                Func::Softmax => return ("1.0".to_string(), ATOM),
                _ => {}
            }
        }
        let name = match f {
            Func::Tr => "np.trace",
            Func::Det => "np.linalg.det",
            Func::Inv => "np.linalg.inv",
            Func::Diag => "np.diag",
            Func::Sum => "np.sum",
            Func::Norm2 => "np.linalg.norm",
            Func::Exp => "np.exp",
            Func::Log => "np.log",
            Func::Sin => "np.sin",
            Func::Cos => "np.cos",
            Func::Tan => "np.tan",
            Func::Tanh => "np.tanh",
            Func::Arcsin => "np.arcsin",
            Func::Arccos => "np.arccos",
            Func::Arctan => "np.arctan",
            Func::Sinh => "np.sinh",
            Func::Cosh => "np.cosh",
            Func::Log1p => "np.log1p",
            Func::Sqrt => "np.sqrt",
            Func::Abs => "np.abs",
            Func::Sign => "np.sign",
            Func::Norm1 => {
                let inner = self.expr(a).0;
                return (format!("np.sum(np.abs({inner}))"), ATOM);
            }
            Func::Relu => {
                let inner = self.expr(a).0;
                return (format!("np.maximum({inner}, 0.0)"), ATOM);
            }
            Func::Logdet => self.helper("logdet"),
            Func::Logsumexp => self.helper("logsumexp"),
            Func::Softmax => self.helper("softmax"),
            Func::Sigmoid => self.helper("sigmoid"),
            Func::Softplus => self.helper("softplus"),
            Func::Step => self.helper("step"),
        };
        self.call(name, a)
    }

    fn helper(&mut self, name: &'static str) -> &'static str {
        self.helpers.insert(name);
        name
    }

    /// `random_inputs(rng)`: data honouring the declarations, as `matdiff check` draws it.
    fn random_inputs(&self, out: &mut String) {
        let g = self.t.graph;
        let needs = data_needs(g, &[self.t.value, self.t.derivative]);
        let sizes = default_sizes(g);
        out.push_str(
            "\ndef random_inputs(rng):\n    \"\"\"Random inputs honouring the declarations: \
             symmetric (B + B')/2, spd B B' + n I,\n    \
             square matrices under inv/det/logdet B + n I, positive entries under log,\n    \
             sqrt, a division or a power.\"\"\"\n",
        );
        if !sizes.is_empty() {
            let names: Vec<String> = sizes.iter().map(|(s, _)| self.name(*s)).collect();
            let values: Vec<String> = sizes.iter().map(|(_, n)| n.to_string()).collect();
            let _ = writeln!(out, "    {} = {}", names.join(", "), values.join(", "));
        }
        let mut entries = Vec::new();
        for v in g.variables() {
            let need = needs
                .iter()
                .find(|(s, _)| *s == v.name)
                .map(|(_, n)| *n)
                .unwrap_or_default();
            let n = self.dim(v.shape.rows);
            let shape = if v.shape.is_scalar() {
                "None".to_string()
            } else {
                let dims = self.array_dims(v.shape);
                if dims.len() == 1 {
                    self.dim(dims[0])
                } else {
                    self.shape_tuple(v.shape)
                }
            };
            let draw = match v.kind {
                Kind::Spd => format!("random_spd(rng, {n})"),
                Kind::Symmetric => format!(
                    "random_symmetric(rng, {n}, {})",
                    if need.well_conditioned {
                        n.as_str()
                    } else {
                        "0"
                    }
                ),
                _ if need.bounded && v.shape.is_scalar() => "rng.uniform(0.1, 0.9)".to_string(),
                _ if need.bounded => format!("rng.uniform(0.1, 0.9, {shape})"),
                _ if need.positive && v.shape.is_scalar() => "rng.uniform(0.5, 2.0)".to_string(),
                _ if need.positive => format!("rng.uniform(0.5, 2.0, {shape})"),
                _ if need.well_conditioned && v.shape.is_square() && !v.shape.is_scalar() => {
                    format!("random_shifted(rng, {n})")
                }
                _ if v.shape.is_scalar() => "rng.uniform(-1.0, 1.0)".to_string(),
                _ => format!("rng.uniform(-1.0, 1.0, {shape})"),
            };
            entries.push(format!("        \"{}\": {draw},", self.name(v.name)));
        }
        let _ = writeln!(out, "    return {{\n{}\n    }}\n", entries.join("\n"));
        let draws = entries.concat();
        for (name, text) in RANDOM_HELPERS {
            if draws.contains(name) {
                out.push('\n');
                out.push_str(text);
            }
        }
    }
}

fn paren(s: String, prec: u8, min: u8) -> String {
    if prec < min {
        format!("({s})")
    } else {
        s
    }
}

const SIGMOID: &str = "def sigmoid(x):
    \"\"\"1 / (1 + exp(-x)) without overflow: exp(x) / (1 + exp(x)) for negative x.\"\"\"
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
";

const SOFTPLUS: &str = "def softplus(x):
    \"\"\"log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), exact for large |x|.\"\"\"
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
";

const LOGSUMEXP: &str = "def logsumexp(x):
    \"\"\"log(sum(exp(x))), shifted by the maximum so that it never overflows.\"\"\"
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))
";

const SOFTMAX: &str = "def softmax(x):
    \"\"\"exp(x) / sum(exp(x)), shifted by the maximum so that it never overflows.\"\"\"
    e = np.exp(x - np.max(x))
    return e / np.sum(e)
";

const LOGDET: &str = "def logdet(A):
    \"\"\"log(det(A)) without overflow; the determinant must be positive.\"\"\"
    sign, value = np.linalg.slogdet(A)
    if sign <= 0:
        raise ValueError(\"logdet of a matrix whose determinant is not positive\")
    return value
";

const STEP: &str = "def step(x):
    \"\"\"1 where the entry is positive, else 0: the derivative of relu.\"\"\"
    return np.where(x > 0, 1.0, 0.0)
";

const RANDOM_HELPERS: [(&str, &str); 3] = [
    (
        "random_spd",
        "
def random_spd(rng, n):
    \"\"\"B B' + n I for a uniform B.\"\"\"
    b = rng.uniform(-1.0, 1.0, (n, n))
    return b @ b.T + n * np.eye(n)
",
    ),
    (
        "random_symmetric",
        "
def random_symmetric(rng, n, shift):
    \"\"\"(B + B')/2 + shift I for a uniform B.\"\"\"
    b = rng.uniform(-1.0, 1.0, (n, n))
    return (b + b.T) / 2 + shift * np.eye(n)
",
    ),
    (
        "random_shifted",
        "
def random_shifted(rng, n):
    \"\"\"B + n I for a uniform B: well conditioned.\"\"\"
    return rng.uniform(-1.0, 1.0, (n, n)) + n * np.eye(n)
",
    ),
];

const CHECK_GRADIENT: &str = "

def check_gradient(f_and_grad, inputs, wrt, trials=5, tol=1e-6, seed=0, kind=DERIVATIVE):
    \"\"\"Compares the derivative returned by f_and_grad(**inputs) with central
    differences of the value along `trials` random unit directions of `wrt`
    (symmetric for symmetric variables): <G, V> for a gradient, J V for a Jacobian,
    df with dX = V for a differential form, V'HV against a second difference for a
    Hessian. Prints the largest relative
    error and returns whether it is within `tol`.\"\"\"
    rng = np.random.default_rng(seed)
    x = np.asarray(inputs[wrt], dtype=float)
    if kind == \"differential\":
        inputs = {**inputs, \"d\" + wrt: np.zeros_like(x)}
    value, derivative = f_and_grad(**inputs)
    derivative = np.asarray(derivative, dtype=float)

    def at(t, v):
        return np.asarray(f_and_grad(**{**inputs, wrt: x + t * v})[0], dtype=float)

    worst = 0.0
    for _ in range(trials):
        v = rng.uniform(-1.0, 1.0, x.shape)
        if wrt in SYMMETRIC:
            v = (v + v.T) / 2
        v = v / np.linalg.norm(v)
        if kind == \"hessian\":
            h = 1e-3 * max(1.0, np.linalg.norm(x))
            numeric = (at(h, v) - 2.0 * value + at(-h, v)) / h**2
            analytic = np.vdot(v, derivative.reshape(v.size, v.size) @ v.ravel())
        else:
            h = 1e-6 * max(1.0, np.linalg.norm(x))
            numeric = (at(h, v) - at(-h, v)) / (2.0 * h)
            if kind == \"jacobian\":
                analytic = derivative.reshape(-1, v.size) @ v.ravel()
            elif kind == \"differential\":
                analytic = np.asarray(f_and_grad(**{**inputs, \"d\" + wrt: v})[1], dtype=float)
            else:
                analytic = np.vdot(derivative, v)
        numeric = np.ravel(numeric)
        analytic = np.ravel(analytic)
        scale = max(np.linalg.norm(numeric), np.linalg.norm(analytic), np.linalg.norm(derivative), 1e-8)
        worst = max(worst, float(np.linalg.norm(numeric - analytic) / scale))
    passed = worst <= tol
    verdict = \"passed\" if passed else \"FAILED\"
    print(f\"{kind} check with respect to {wrt}: largest relative error {worst:.2e} \"
          f\"over {trials} random directions (tolerance {tol:.0e}): {verdict}\")
    return passed
";

const MAIN: &str = "

if __name__ == \"__main__\":
    sys.exit(0 if check_gradient(f_and_grad, random_inputs(np.random.default_rng(0)), WRT) else 1)
";
