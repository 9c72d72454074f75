"""The Python code of docs/python.md runs as written, cell after cell in one
namespace (the block that shows an error raises it)."""

import re
from pathlib import Path

import pytest

import matdiff as md

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def cells():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.skipif(not DOC.exists(), reason="the repository's docs are not next to the tests")
def test_the_notebook_of_docs_python_md_runs():
    pytest.importorskip("sklearn")
    namespace = {}
    ran = 0
    for cell in cells():
        if "# ParseError" in cell:
            with pytest.raises(md.ParseError):
                exec(compile(cell, str(DOC), "exec"), namespace)
            continue
        exec(compile(cell, str(DOC), "exec"), namespace)
        ran += 1
    assert ran >= 6
    # The closed form, the library's regression and SciPy agree on the diabetes data.
    s, fit, opt = namespace["s"], namespace["fit"], namespace["opt"]
    assert s.grad_norm < 1e-6
    assert abs(fit.intercept - s.x[-1]) < 1e-6
    assert abs(namespace["centred"].intercept - s.x[-1]) < 1e-6
