//! Singular value decompositions that give the same bits for any thread count.
//!
//! faer's convenience methods (`thin_svd`, `singular_values`) run with the global
//! parallelism, and the parallel SVD sums in an order that depends on the number of
//! threads. A fit must not change in its last digits with `RAYON_NUM_THREADS`, so the
//! SVDs of linear regression (of `d × d` or `N × d` matrices, `d` the feature count)
//! run sequentially.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::{self, ComputeSvdVectors, SvdError};
use faer::{Mat, MatRef, Par};

/// A thin SVD `A = U diag(s) Vᵀ`, singular values in nonincreasing order.
pub(crate) struct ThinSvd {
    pub u: Mat<f64>,
    pub s: Vec<f64>,
    pub v: Mat<f64>,
}

/// The thin SVD of `a`, computed sequentially.
pub(crate) fn thin_svd(a: MatRef<'_, f64>) -> Result<ThinSvd, SvdError> {
    let (m, n) = a.shape();
    let size = m.min(n);
    let mut u = Mat::zeros(m, size);
    let mut v = Mat::zeros(n, size);
    let mut s = Diag::<f64>::zeros(size);
    run(a, &mut s, Some((&mut u, &mut v)))?;
    Ok(ThinSvd {
        u,
        s: s.column_vector().iter().copied().collect(),
        v,
    })
}

/// The singular values of `a` in nonincreasing order, computed sequentially.
pub(crate) fn singular_values(a: MatRef<'_, f64>) -> Result<Vec<f64>, SvdError> {
    let mut s = Diag::<f64>::zeros(a.nrows().min(a.ncols()));
    run(a, &mut s, None)?;
    Ok(s.column_vector().iter().copied().collect())
}

fn run(
    a: MatRef<'_, f64>,
    s: &mut Diag<f64>,
    vectors: Option<(&mut Mat<f64>, &mut Mat<f64>)>,
) -> Result<(), SvdError> {
    let (m, n) = a.shape();
    let par = Par::Seq;
    let compute = if vectors.is_some() {
        ComputeSvdVectors::Thin
    } else {
        ComputeSvdVectors::No
    };
    let mut scratch = MemBuffer::new(svd::svd_scratch::<f64>(
        m,
        n,
        compute,
        compute,
        par,
        Default::default(),
    ));
    let (u, v) = match vectors {
        Some((u, v)) => (Some(u.as_mut()), Some(v.as_mut())),
        None => (None, None),
    };
    svd::svd(
        a,
        s.as_mut(),
        u,
        v,
        par,
        MemStack::new(&mut scratch),
        Default::default(),
    )
}
