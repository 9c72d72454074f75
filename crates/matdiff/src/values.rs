//! Values read from JSON, owned ([`Values`]), and the value of a function with its
//! derivatives at a point ([`Evaluation`]).
//!
//! The JSON encoding of a value: a number, a flat list (a column vector, or a row
//! vector for a row-shaped variable), or a list of rows (a matrix). A point gives
//! several values as an object by variable name; a point of one variable may be the
//! bare value.

use faer::Mat;
use matdiff_core::{DerivativeKind, Graph, Id, Node, Sym};
use matdiff_num::Value;
use serde::ser::SerializeMap;
use serde::Serialize;

use crate::function::{evaluate, name_known};
use crate::{Error, Function, Inputs};

/// Values of variables by name, owned: read from JSON ([`Function::values_from_json`])
/// or data files, and lent to an evaluation as [`Inputs`].
///
/// ```
/// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
/// let mut values = f.values_from_json(r#"{"A": [[1, 0], [0, 2]], "x": [1, 1]}"#)?;
/// assert_eq!(values.names(), ["A", "x"]);
/// values.insert("x", matdiff::faer::mat![[2.0], [0.0]]);
/// assert_eq!(f.value(&values.inputs())?[(0, 0)], 4.0);
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Values {
    /// `(name, value, is the direction dX of the variable name)`.
    entries: Vec<(String, Mat<f64>, bool)>,
}

impl Values {
    /// No values.
    ///
    /// ```
    /// assert!(matdiff::Values::new().names().is_empty());
    /// ```
    pub fn new() -> Values {
        Values::default()
    }

    /// Sets the value of a variable, replacing an earlier one.
    ///
    /// ```
    /// let mut values = matdiff::Values::new();
    /// values.insert("x", matdiff::faer::mat![[1.0], [2.0]]);
    /// assert!(values.contains("x"));
    /// ```
    pub fn insert(&mut self, name: &str, value: Mat<f64>) {
        self.entries.retain(|(n, _, d)| *d || n != name);
        self.entries.push((name.to_owned(), value, false));
    }

    /// Whether a value of the variable `name` is held.
    ///
    /// ```
    /// assert!(!matdiff::Values::new().contains("x"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value of the variable `name`.
    ///
    /// ```
    /// let mut values = matdiff::Values::new();
    /// values.insert("a", matdiff::faer::mat![[3.0]]);
    /// assert_eq!(values.get("a").map(|m| m[(0, 0)]), Some(3.0));
    /// ```
    pub fn get(&self, name: &str) -> Option<&Mat<f64>> {
        self.entries
            .iter()
            .find(|(n, _, d)| !d && n == name)
            .map(|(_, m, _)| m)
    }

    /// The names held, in order (a direction as `dX`).
    ///
    /// ```
    /// let f = matdiff::Function::parse("trace(X)", "X: matrix(n,n)")?;
    /// let values = f.values_from_json(r#"{"X": [[1, 2], [3, 4]], "dX": [[1, 0], [0, 1]]}"#)?;
    /// assert_eq!(values.names(), ["X", "dX"]);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(n, _, d)| if *d { format!("d{n}") } else { n.clone() })
            .collect()
    }

    /// The values, borrowed as [`Inputs`] for an evaluation.
    ///
    /// ```
    /// let f = matdiff::Function::parse("sum(x)", "")?;
    /// let values = f.values_from_json(r#"{"x": [1, 2, 3]}"#)?;
    /// assert_eq!(f.value(&values.inputs())?[(0, 0)], 6.0);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn inputs(&self) -> Inputs<'_> {
        self.entries
            .iter()
            .fold(Inputs::new(), |inputs, (name, value, direction)| {
                if *direction {
                    inputs.direction(name, value.as_ref())
                } else {
                    inputs.matrix(name, value.as_ref())
                }
            })
    }
}

impl Function {
    /// Reads values from JSON: an object mapping variable names (or `dX` for the
    /// direction of `X`) to values, each fitted to its declaration (a flat list for a
    /// row-shaped variable is a row). For a function of one variable the bare value
    /// may stand for the object.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let values = f.values_from_json("[3, 4]")?;
    /// assert_eq!(f.value(&values.inputs())?[(0, 0)], 25.0);
    /// let error = f.values_from_json(r#"{"y": 1}"#).unwrap_err();
    /// assert!(error.to_string().contains("unknown variable `y`"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn values_from_json(&self, text: &str) -> Result<Values, Error> {
        let graph = &self.inner.graph;
        let json = parse_json(text)?;
        let json = match json {
            serde_json::Value::Object(_) => json,
            bare => match graph.variables() {
                [only] => serde_json::json!({ graph.name(only.name): bare }),
                _ => {
                    return Err(Error::Invalid(format!(
                        "a bare value stands for the only variable, and the expression has {} — give an object by variable name, e.g. {{\"{}\": …}}",
                        graph.variables().len(),
                        graph
                            .variables()
                            .first()
                            .map_or("x", |v| graph.name(v.name))
                    )))
                }
            },
        };
        let bound = matdiff_num::Inputs::from_json(&json.to_string(), graph)
            .map_err(|e| name_known(graph, e.into()))?;
        let mut values = Values::new();
        for v in graph.variables() {
            let name = graph.name(v.name);
            if let Some(m) = bound.get(v.name) {
                values.entries.push((name.to_owned(), m.clone(), false));
            }
            if let Some(m) = bound.differential(v.name) {
                values.entries.push((name.to_owned(), m.clone(), true));
            }
        }
        Ok(values)
    }

    /// Reads the value of the variable `name` from JSON: the bare value, or an object
    /// with `name` as a key (other keys are ignored), fitted to its declaration.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let w = f.value_from_json("w", r#"{"w": [1, 2], "note": "start"}"#)?;
    /// assert_eq!((w.nrows(), w[(1, 0)]), (2, 2.0));
    /// assert_eq!(f.value_from_json("w", "[1, 2]")?[(0, 0)], 1.0);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn value_from_json(&self, name: &str, text: &str) -> Result<Mat<f64>, Error> {
        let graph = &self.inner.graph;
        let sym = graph
            .variable_named(name)
            .map(|v| v.name)
            .ok_or_else(|| crate::inputs::unknown_variable(graph, name))?;
        let value = match parse_json(text)? {
            serde_json::Value::Object(mut object) => object.remove(name).ok_or_else(|| {
                Error::Invalid(format!(
                    "no value for `{name}` — give the value itself or an object with the key `{name}`"
                ))
            })?,
            value => value,
        };
        let bound =
            matdiff_num::Inputs::from_json(&serde_json::json!({ name: value }).to_string(), graph)
                .map_err(|e| name_known(graph, e.into()))?;
        bound
            .get(sym)
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("no value for `{name}` — give one")))
    }

    /// The value at `inputs` and, with `wrt`, the derivatives of order 1 to `order`:
    /// the gradient (or Jacobian) and, for order 2, the Hessian. The value is computed
    /// in its numerically stable form (`log(1 + exp(z))` as `softplus(z)`).
    ///
    /// A differential form, or the Hessian with respect to a matrix (a linear map), is
    /// not an array of numbers: [`Error::Invalid`].
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
    /// let values = f.values_from_json(r#"{"A": [[1, 0], [0, 2]], "x": [1, 1]}"#)?;
    /// let e = f.evaluation(&values.inputs(), Some("x"), 2)?;
    /// assert_eq!(e.names(), ["value", "gradient", "hessian"]);
    /// assert_eq!(e.get("hessian").map(|h| h[(1, 1)]), Some(4.0));
    /// assert_eq!(serde_json::to_string(&e).unwrap(),
    ///     r#"{"value":3.0,"gradient":[2.0,4.0],"hessian":[[2.0,0.0],[0.0,4.0]]}"#);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn evaluation(
        &self,
        inputs: &Inputs<'_>,
        wrt: Option<&str>,
        order: u8,
    ) -> Result<Evaluation, Error> {
        let mut function = self.inner.clone();
        function.root = matdiff_core::stable::stabilize(&mut function.graph, function.root);
        let mut outputs: Vec<(&'static str, Id)> = vec![("value", function.root)];
        if let (Some(wrt), 1..) = (wrt, order) {
            outputs.extend(self.derivative_outputs(&mut function, wrt, order)?);
        }
        let roots: Vec<Id> = outputs.iter().map(|(_, id)| *id).collect();
        let values = evaluate(&function.graph, &roots, inputs)?;
        Ok(Evaluation {
            entries: outputs.iter().map(|(name, _)| *name).zip(values).collect(),
        })
    }

    /// The derivative outputs (`gradient`, `jacobian`, `hessian`) of `function`.
    fn derivative_outputs(
        &self,
        function: &mut matdiff_core::Function,
        wrt: &str,
        order: u8,
    ) -> Result<Vec<(&'static str, Id)>, Error> {
        let d = matdiff_core::derive(function, wrt, order)
            .map_err(|e| crate::function::diff_error(&function.graph, wrt, e))?;
        let graph = &function.graph;
        let in_direction = |id: Id, var: Sym| {
            graph
                .reachable(&[id])
                .into_iter()
                .any(|n| graph.node(n) == Node::Differential(var))
        };
        match d.kind {
            DerivativeKind::Gradient => Ok(vec![("gradient", d.expr)]),
            DerivativeKind::Jacobian => Ok(vec![("jacobian", d.expr)]),
            DerivativeKind::Differential => Err(Error::Invalid(format!(
                "the derivative with respect to `{wrt}` is a differential form, not an array of numbers — \
                 see it with `matdiff derive EXPR --wrt {wrt}`"
            ))),
            DerivativeKind::Hessian if in_direction(d.expr, d.wrt) || is_matrix(graph, d.wrt) => {
                Err(Error::Invalid(format!(
                    "the hessian with respect to the matrix `{wrt}` is a linear map, not an array of numbers — \
                     see it with `matdiff derive EXPR --wrt {wrt} --order 2`"
                )))
            }
            DerivativeKind::Hessian => {
                let mut out = Vec::new();
                if let Some(g) = d.gradient {
                    out.push(("gradient", g));
                }
                out.push(("hessian", d.expr));
                Ok(out)
            }
        }
    }
}

/// Whether the variable is a matrix (not a scalar or a vector): its Hessian is a
/// linear map, even where it happens to be zero.
pub(crate) fn is_matrix(graph: &Graph, var: Sym) -> bool {
    graph
        .variable(var)
        .is_some_and(|v| v.shape.cols != matdiff_core::Dim::ONE)
}

fn parse_json(text: &str) -> Result<serde_json::Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        // serde_json ends its message with the position, which leads ours instead.
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        Error::Invalid(format!(
            "{}:{}: not valid JSON: {message}",
            e.line(),
            e.column().max(1)
        ))
    })
}

/// The value of a function and its derivatives at a point, by name, in order:
/// `value`, then `gradient` or `jacobian`, then `hessian` ([`Function::evaluation`]).
///
/// Serialises as one JSON object of the value encoding: a number for a scalar, a
/// flat list for a vector, a list of rows for a matrix. `Display` writes the same
/// object on one line.
#[derive(Clone, Debug)]
pub struct Evaluation {
    entries: Vec<(&'static str, Value)>,
}

impl Evaluation {
    /// The names of the outputs, in order.
    ///
    /// ```
    /// let f = matdiff::Function::parse("sum(x)", "")?;
    /// let e = f.evaluation(&matdiff::Inputs::new().vector("x", &[1.0]), None, 0)?;
    /// assert_eq!(e.names(), ["value"]);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|(n, _)| *n).collect()
    }

    /// One output as a matrix (a scalar as 1 × 1, a vector as one column).
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let e = f.evaluation(&matdiff::Inputs::new().vector("x", &[3.0, 4.0]), Some("x"), 1)?;
    /// assert_eq!(e.get("gradient").map(|g| g[(1, 0)]), Some(8.0));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<Mat<f64>> {
        self.entries
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_matrix())
    }
}

impl std::fmt::Display for Evaluation {
    /// One line of JSON, the outputs in order: `{"value": -3.0, "gradient": [9.0,12.0]}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<String> = self
            .entries
            .iter()
            .map(|(name, v)| format!("\"{name}\": {}", v.to_json()))
            .collect();
        write!(f, "{{{}}}", fields.join(", "))
    }
}

impl Serialize for Evaluation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name, &value.to_json())?;
        }
        map.end()
    }
}
