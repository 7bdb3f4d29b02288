//! C = op(A) · op(B).

use super::Array;

/// op(a) · op(b) for matrices; `trans_a` reads a [k, m] as [m, k], `trans_b` b [n, k] as [k, n].
pub fn matmul(a: &Array, b: &Array, trans_a: bool, trans_b: bool) -> Array {
    let (m, k) = if trans_a { (a.dims[1], a.dims[0]) } else { (a.dims[0], a.dims[1]) };
    let n = if trans_b { b.dims[0] } else { b.dims[1] };
    let at = |i: usize, p: usize| if trans_a { a.data[p * m + i] } else { a.data[i * k + p] };
    let bt = |p: usize, j: usize| if trans_b { b.data[j * k + p] } else { b.data[p * n + j] };
    let mut c = Array::zeros(&[m, n]);
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0;
            for p in 0..k {
                sum += at(i, p) * bt(p, j);
            }
            c.data[i * n + j] = sum;
        }
    }
    c
}

/// Gradients of a and b given the gradient `g` of C.
pub fn matmul_backward(a: &Array, b: &Array, trans_a: bool, trans_b: bool, g: &Array) -> (Array, Array) {
    // d op(A) = G · op(B)ᵀ and d op(B) = op(A)ᵀ · G, each transposed back if stored transposed.
    let op_b = if trans_b { transpose(b) } else { b.clone() };
    let op_a = if trans_a { transpose(a) } else { a.clone() };
    let d_op_a = matmul(g, &op_b, false, true);
    let d_op_b = matmul(&op_a, g, true, false);
    let da = if trans_a { transpose(&d_op_a) } else { d_op_a };
    let db = if trans_b { transpose(&d_op_b) } else { d_op_b };
    (da, db)
}

/// The transpose of a matrix.
pub fn transpose(x: &Array) -> Array {
    let (r, c) = (x.dims[0], x.dims[1]);
    let mut t = Array::zeros(&[c, r]);
    for i in 0..r {
        for j in 0..c {
            t.data[j * r + i] = x.data[i * c + j];
        }
    }
    t
}

/// The matrices of a rank-2 or rank-3 array: one, or one per batch entry.
fn matrices(x: &Array) -> Vec<Array> {
    if x.dims.len() == 2 {
        return vec![x.clone()];
    }
    let (r, c) = (x.dims[1], x.dims[2]);
    x.data.chunks(r * c).map(|m| Array::new(&[r, c], m.to_vec())).collect()
}

fn stack(ms: Vec<Array>) -> Array {
    let dims = [ms.len(), ms[0].dims[0], ms[0].dims[1]];
    Array::new(&dims, ms.into_iter().flat_map(|m| m.data).collect())
}

/// Batched op(a) · op(b): either operand [batch, rows, cols], a plain matrix serving every entry.
pub fn batched_matmul(a: &Array, b: &Array, trans_a: bool, trans_b: bool) -> Array {
    if a.dims.len() == 2 && b.dims.len() == 2 {
        return matmul(a, b, trans_a, trans_b);
    }
    let (ma, mb) = (matrices(a), matrices(b));
    let batch = ma.len().max(mb.len());
    stack((0..batch).map(|i| matmul(&ma[i.min(ma.len() - 1)], &mb[i.min(mb.len() - 1)], trans_a, trans_b)).collect())
}

/// Gradients of a and b of [`batched_matmul`]; a plain matrix gets the sum over the batch.
pub fn batched_matmul_backward(a: &Array, b: &Array, trans_a: bool, trans_b: bool, g: &Array) -> (Array, Array) {
    if a.dims.len() == 2 && b.dims.len() == 2 {
        return matmul_backward(a, b, trans_a, trans_b, g);
    }
    let (ma, mb, mg) = (matrices(a), matrices(b), matrices(g));
    let mut da = Vec::new();
    let mut db = Vec::new();
    for (i, gi) in mg.iter().enumerate() {
        let (x, y) = matmul_backward(&ma[i.min(ma.len() - 1)], &mb[i.min(mb.len() - 1)], trans_a, trans_b, gi);
        da.push(x);
        db.push(y);
    }
    let collapse = |parts: Vec<Array>, like: &Array| {
        if like.dims.len() == 3 {
            stack(parts)
        } else {
            let mut sum = Array::zeros(&like.dims);
            for p in parts {
                sum.data.iter_mut().zip(&p.data).for_each(|(s, v)| *s += v);
            }
            sum
        }
    };
    (collapse(da, a), collapse(db, b))
}
