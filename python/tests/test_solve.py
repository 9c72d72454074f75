"""``f.solve``: the closed form of ∇f = 0, with its steps and verdict, and the point
on numbers."""

import numpy as np
import pytest

import matdiff as md


def test_least_squares_closed_form_and_steps():
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    s = f.solve("w")
    assert str(s) == "inv(X'*X)*X'*y"
    assert s.verdict == "minimum, unique when X has full column rank"
    assert s.definiteness == "positive_definite"
    assert s.definite_when == ["X has full column rank"]
    assert s.minimum_norm is not None and s.minimum_norm[0] == "pinv(X)*y"
    assert s.steps and all(isinstance(eq, str) and isinstance(rule, str) for eq, rule in s.steps)
    assert "X" in s.latex and s._repr_latex_().startswith("$$")
    assert s.x is None and s.grad_norm is None


def test_point_on_numbers_agrees_with_lstsq_and_linreg(regression):
    X, _, y = regression
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    s = f.solve("w", X=X, y=y)
    expected, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert s.x.shape == (X.shape[1],)
    np.testing.assert_allclose(s.x, expected, rtol=1e-10)
    assert s.grad_norm < 1e-10
    _, grad = f.value_and_grad("w", X=X, w=s.x, y=y)
    assert np.linalg.norm(grad) < 1e-10


@pytest.mark.parametrize(
    "expr, let, wrt, text, verdict",
    [
        (
            "norm2(X*w - y)^2 + lambda*norm2(w)^2",
            "X: matrix(N,d); lambda: scalar",
            "w",
            "inv(X'*X + lambda*eye(d))*X'*y",
            None,
        ),
        ("x'*P*x/2 - b'*x", "P: spd(n)", "x", "inv(P)*b", "minimum, unique"),
        ("norm2(A*X - B)^2", "A: matrix(m,n); X: matrix(n,p)", "X", "inv(A'*A)*A'*B", None),
    ],
)
def test_textbook_solutions(expr, let, wrt, text, verdict):
    s = md.Function(expr, let=let).solve(wrt)
    assert str(s) == text
    if verdict is not None:
        assert s.verdict == verdict


def test_ridge_point_zeroes_the_gradient(rng):
    f = md.Function("norm2(X*w - y)^2 + lambda*norm2(w)^2", let="X: matrix(N,d); lambda: scalar")
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    s = f.solve("w", X=X, y=y, **{"lambda": 0.5})
    _, grad = f.value_and_grad("w", X=X, w=s.x, y=y, **{"lambda": 0.5})
    assert np.linalg.norm(grad) < 1e-10


def test_matrix_variable_point_is_2d(rng):
    f = md.Function("norm2(A*X - B)^2", let="A: matrix(m,n); X: matrix(n,p)")
    A, B = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    s = f.solve("X", A=A, B=B)
    assert s.x.shape == (3, 2)
    np.testing.assert_allclose(s.x, np.linalg.lstsq(A, B, rcond=None)[0], rtol=1e-10)


def test_not_affine_has_no_closed_form_with_a_caret():
    f = md.Function("sum(log(1 + exp(-y .* (X*w))))", let="X: matrix(N,d)")
    with pytest.raises(md.MatdiffError) as info:
        f.solve("w")
    message = str(info.value)
    assert "not affine in w" in message and "minimize" in message
    assert "^" in message


def test_singular_data_name_the_minimum_norm_solution():
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    X = np.ones((5, 2))
    with pytest.raises(md.DomainError, match=r"pinv\(X\)\*y"):
        f.solve("w", X=X, y=np.arange(5.0))


def test_the_variable_is_not_a_value():
    f = md.Function("x'*P*x/2 - b'*x", let="P: spd(n)")
    with pytest.raises(md.ShapeError, match="solved for"):
        f.solve("x", x=np.ones(2))
