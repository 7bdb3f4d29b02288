//! Layout ops in plain loops over coordinates: narrow, its gradient (pad), permute, concat,
//! one-hot.

use super::Array;

/// Row-major coordinates of `index` in `dims`.
fn coords(mut index: usize, dims: &[usize]) -> Vec<usize> {
    let mut c = vec![0; dims.len()];
    for d in (0..dims.len()).rev() {
        c[d] = index % dims[d];
        index /= dims[d];
    }
    c
}

/// The row-major index of `c` in `dims`.
fn index(c: &[usize], dims: &[usize]) -> usize {
    c.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// `len` entries of x from `start` along `axis`.
pub fn narrow(x: &Array, axis: usize, start: usize, len: usize) -> Array {
    let mut dims = x.dims.clone();
    dims[axis] = len;
    let n: usize = dims.iter().product();
    let data = (0..n)
        .map(|i| {
            let mut c = coords(i, &dims);
            c[axis] += start;
            x.data[index(&c, &x.dims)]
        })
        .collect();
    Array::new(&dims, data)
}

/// x placed at `start` along `axis` of zeros with dims `dims`.
pub fn pad(x: &Array, axis: usize, start: usize, dims: &[usize]) -> Array {
    let mut out = Array::zeros(dims);
    for (i, &v) in x.data.iter().enumerate() {
        let mut c = coords(i, &x.dims);
        c[axis] += start;
        out.data[index(&c, dims)] = v;
    }
    out
}

/// x with axis d of the result taken from axis `perm[d]` of x.
pub fn permute(x: &Array, perm: &[usize]) -> Array {
    let dims: Vec<usize> = perm.iter().map(|&p| x.dims[p]).collect();
    let n: usize = dims.iter().product();
    let data = (0..n)
        .map(|i| {
            let c = coords(i, &dims);
            let mut source = vec![0; perm.len()];
            for (d, &p) in perm.iter().enumerate() {
                source[p] = c[d];
            }
            x.data[index(&source, &x.dims)]
        })
        .collect();
    Array::new(&dims, data)
}

/// The permutation that undoes `perm`.
pub fn inverse(perm: &[usize]) -> Vec<usize> {
    let mut out = vec![0; perm.len()];
    for (d, &p) in perm.iter().enumerate() {
        out[p] = d;
    }
    out
}

/// a then b along `axis`.
pub fn concat(a: &Array, b: &Array, axis: usize) -> Array {
    let mut dims = a.dims.clone();
    dims[axis] += b.dims[axis];
    let mut out = pad(a, axis, 0, &dims);
    let placed = pad(b, axis, a.dims[axis], &dims);
    for (o, (p, inside)) in out.data.iter_mut().zip(placed.data.iter().zip(0..)) {
        if coords(inside, &dims)[axis] >= a.dims[axis] {
            *o = *p;
        }
    }
    out
}

/// One-hot rows of class indices; an index outside [0, classes) gives zeros.
pub fn one_hot(labels: &Array, classes: usize) -> Array {
    let n = labels.data.len();
    let mut out = Array::zeros(&[n, classes]);
    for (r, &l) in labels.data.iter().enumerate() {
        if l >= 0.0 && l.fract() == 0.0 && (l as usize) < classes {
            out.data[r * classes + l as usize] = 1.0;
        }
    }
    out
}

/// The row an index holds, if it is one of `rows`.
fn row_of(v: f64, rows: usize) -> Option<usize> {
    (v >= 0.0 && v.fract() == 0.0 && (v as usize) < rows).then_some(v as usize)
}

/// The rows of `weight` `[N, D]` at `indices`: `[…indices, D]`, zeros for an index outside
/// the rows.
pub fn embedding(weight: &Array, indices: &Array) -> Array {
    let (rows, d) = (weight.dims[0], weight.dims[1]);
    let mut dims = indices.dims.clone();
    dims.push(d);
    let mut out = Array::zeros(&dims);
    for (q, &v) in indices.data.iter().enumerate() {
        if let Some(r) = row_of(v, rows) {
            out.data[q * d..(q + 1) * d].copy_from_slice(&weight.data[r * d..(r + 1) * d]);
        }
    }
    out
}

/// `[2, n]`: the n indices in ascending order (one outside the rows as `rows`) and each one's
/// position, equal indices in order of position.
pub fn index_order(indices: &Array, rows: usize) -> Array {
    let key = |v: f64| row_of(v, rows).unwrap_or(rows);
    let mut order: Vec<usize> = (0..indices.data.len()).collect();
    order.sort_by_key(|&q| key(indices.data[q]));
    let keys = order.iter().map(|&q| key(indices.data[q]) as f64);
    let positions = order.iter().map(|&q| q as f64);
    Array::new(&[2, order.len()], keys.chain(positions).collect())
}

/// The weight's gradient `[rows, D]` of [`embedding`] given the output's gradient `g`.
pub fn embedding_backward(indices: &Array, rows: usize, g: &Array) -> Array {
    let d = *g.dims.last().unwrap_or(&1);
    let mut out = Array::zeros(&[rows, d]);
    for (q, &v) in indices.data.iter().enumerate() {
        if let Some(r) = row_of(v, rows) {
            for j in 0..d {
                out.data[r * d + j] += g.data[q * d + j];
            }
        }
    }
    out
}
