"""Every error class, with the command line's located message."""

import numpy as np
import pytest

import matdiff as md


def test_hierarchy():
    for cls in (md.ParseError, md.ShapeError, md.DomainError, md.DivergenceError, md.DataError):
        assert issubclass(cls, md.MatdiffError)
    assert issubclass(md.MatdiffError, ValueError)


def test_parse_error_has_the_caret_message():
    with pytest.raises(md.ParseError) as info:
        md.Function("determinant(X)", let="X: matrix(n,n)")
    message = str(info.value)
    assert message.startswith("error: unknown function `determinant`")
    assert "<expr>:1:1" in message
    assert "^^^^^^^^^^^" in message
    assert "did you mean `det`?" in message


def test_shape_error_in_the_expression_points_at_it():
    with pytest.raises(md.ShapeError) as info:
        md.Function("X*w", let="X: matrix(N,d); w: vector(N)")
    assert "^" in str(info.value)


def test_shape_error_between_declarations_and_values(rng):
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    X = rng.standard_normal((5, 3))
    with pytest.raises(md.ShapeError, match="w"):
        f(X=X, w=np.zeros(4), y=np.zeros(5))


def test_unknown_variable_is_a_shape_error_naming_the_variables(rng):
    f = md.Function("x'*x")
    with pytest.raises(md.ShapeError, match="unknown variable `z`"):
        f.gradient("z")
    with pytest.raises(md.MatdiffError):
        f(x=np.ones(2), z=1.0)


def test_too_many_dimensions(rng):
    with pytest.raises(md.ShapeError, match="3 dimensions"):
        md.Function("x'*x")(x=np.ones((2, 2, 2)))


def test_domain_error():
    f = md.Function("sum(log(x))")
    with pytest.raises(md.DomainError) as info:
        f(x=np.array([1.0, -1.0]))
    assert str(info.value).startswith("error: ")


def test_divergence_error_carries_advice(rng):
    f = md.Function("norm2(x - a)^2")
    with pytest.raises(md.DivergenceError) as info:
        md.minimize(f, "x", a=np.ones(3), lr=10.0, max_iter=500)
    assert "diverged" in str(info.value)
    assert isinstance(info.value.advice, str) and info.value.advice


def test_data_error():
    with pytest.raises(md.DataError, match=r"`X` has a non-finite value at \[0, 1\]"):
        md.linreg(np.array([[1.0, np.nan], [2.0, 3.0], [3.0, 1.0]]), np.array([1.0, 2.0, 3.0]))
    # Rows are checked a block at a time: a value far down is found where it is.
    X = np.ones((150_000, 3))
    X[:, 1] = np.arange(150_000.0)
    X[140_001, 2] = np.inf
    with pytest.raises(md.DataError, match=r"`X` has a non-finite value at \[140001, 2\]"):
        md.linreg(X, np.arange(150_000.0))
    with pytest.raises(md.DataError, match=r"`y` has a non-finite value at \[7\]"):
        md.linreg(np.ones((10, 2)), np.where(np.arange(10) == 7, np.nan, 1.0))


def test_data_error_from_a_malformed_file(tmp_path):
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    bad = tmp_path / "X.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(md.DataError):
        md.minimize(f, "w", X=str(bad), y=np.ones(2), max_iter=2)


def test_fit_reads_data_files(tmp_path, regression):
    X, _, y = regression
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    from_files = md.minimize(f, "w", X=tmp_path / "X.npy", y=tmp_path / "y.npy", lr=0.1, max_iter=50)
    in_memory = md.minimize(f, "w", X=X, y=y, lr=0.1, max_iter=50)
    np.testing.assert_allclose(from_files.x, in_memory.x, rtol=1e-12)


def test_invalid_option_is_a_matdiff_error():
    f = md.Function("norm2(x)^2")
    with pytest.raises(md.MatdiffError, match="lr|learning rate|step"):
        md.minimize(f, "x", lr=-1.0, x0=np.ones(2))


def test_unreadable_value_is_a_shape_error():
    with pytest.raises(md.ShapeError):
        md.Function("x'*x")(x="abc")
