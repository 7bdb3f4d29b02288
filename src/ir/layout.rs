//! Graph ops that rearrange elements: slicing, selecting, permuting, joining, reshaping with
//! an inferred extent, squeezing, and one-hot encoding. Each has a gradient where one exists
//! (one-hot has none), so models can use them; the eager [`Tensor`](crate::Tensor) methods
//! are built from them.
//!
//! ```
//! use shadergrad::{Device, Graph, Plan, autodiff};
//! let device = Device::new()?;
//! let mut g = Graph::new();
//! let a = g.param("a", &[2, 3])?;
//! let b = g.param("b", &[2, 1])?;
//! let joined = g.cat(&[a, b], -1)?; // [2, 4]
//! let head = g.slice(joined, 1, ..-1)?; // joined[:, :-1], a again
//! let loss = g.sum(head)?;
//! let grads = autodiff::gradients(&mut g, loss, None, &[a, b])?;
//! let mut plan = Plan::compile(&device, &g, &[loss, grads[0], grads[1]])?;
//! plan.write(a, &[1., 2., 3., 4., 5., 6.])?;
//! let out = plan.run_and_read(&[loss, grads[0], grads[1]])?;
//! assert_eq!(out[0], [21.]);
//! assert_eq!((out[1].clone(), out[2].clone()), (vec![1.; 6], vec![0.; 2]));
//! # Ok::<(), shadergrad::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId, Op};
use crate::ir::shape::{MAX_RANK, Shape};
use std::ops::{Bound, RangeBounds};

/// `dims` with the one `-1` among them (if any) replaced by the extent that makes `numel`
/// elements, as `view(-1, 3)` does; `op` names the caller in errors.
pub fn infer_dims(op: &'static str, dims: &[isize], numel: usize) -> Result<Vec<usize>> {
    let bad = |message: String| Error::InvalidArgument { op, message };
    let unknown: Vec<usize> = (0..dims.len()).filter(|&d| dims[d] == -1).collect();
    if unknown.len() > 1 {
        return Err(bad(format!("{dims:?} has more than one -1")));
    }
    if let Some(&d) = dims.iter().find(|&&d| d < -1 || d == 0) {
        return Err(bad(format!("{dims:?} has the extent {d}; extents are positive, or -1 for one inferred")));
    }
    let known: usize = dims.iter().filter(|&&d| d > 0).map(|&d| d as usize).product();
    let mut out: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(&d) = unknown.first() {
        if !numel.is_multiple_of(known) {
            return Err(bad(format!("{numel} elements cannot be viewed as {dims:?}")));
        }
        out[d] = numel / known;
    }
    Ok(out)
}

/// Python's slice bounds of `range` over an axis of `len` elements: negative ends count from
/// the end, and ends past the axis are clamped to it.
fn resolve(range: &impl RangeBounds<isize>, len: usize) -> (usize, usize) {
    let len = len as isize;
    let clamp = |v: isize| (if v < 0 { v + len } else { v }).clamp(0, len) as usize;
    let start = match range.start_bound() {
        Bound::Included(&s) => clamp(s),
        Bound::Excluded(&s) => clamp(s.saturating_add(1)),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(-1) => len as usize,
        Bound::Included(&e) => clamp(e.saturating_add(1)),
        Bound::Excluded(&e) => clamp(e),
        Bound::Unbounded => len as usize,
    };
    (start, end)
}

impl Graph {
    /// `len` elements of `x` from `start` along `axis` (negative values count from the end),
    /// as PyTorch's `narrow`. Its gradient places the output's gradient back among zeros. The
    /// same narrow asked for again is the same node.
    pub fn narrow(&mut self, x: NodeId, axis: isize, start: isize, len: usize) -> Result<NodeId> {
        self.check("narrow", x)?;
        let shape = self.shape(x).clone();
        let a = shape.axis("narrow", axis)?;
        let extent = shape.dims()[a];
        let first = if start < 0 { start + extent as isize } else { start };
        if first < 0 || len == 0 || first as usize + len > extent {
            return Err(Error::InvalidArgument {
                op: "narrow",
                message: format!(
                    "elements {start}..{start}+{len} along axis {axis} are not within shape {shape} (and not empty)"
                ),
            });
        }
        if len == extent {
            return Ok(x);
        }
        let mut dims = shape.dims().to_vec();
        dims[a] = len;
        Ok(self.push_once(Op::Narrow { axis: a, start: first as usize }, vec![x], Shape::new(&dims)?))
    }

    /// The elements of `x` in `range` along `axis`, with Python's rules (`t[2:5]` is
    /// `slice(t, 0, 2..5)`, `t[:, :-1]` is `slice(t, 1, ..-1)`); an empty result is an error.
    pub fn slice(&mut self, x: NodeId, axis: isize, range: impl RangeBounds<isize>) -> Result<NodeId> {
        self.check("slice", x)?;
        let shape = self.shape(x).clone();
        let a = shape.axis("slice", axis)?;
        let (start, end) = resolve(&range, shape.dims()[a]);
        if end <= start {
            return Err(Error::InvalidArgument {
                op: "slice",
                message: format!(
                    "the slice {:?}..{:?} of axis {axis} of shape {shape} is empty; tensors hold at least one value",
                    range.start_bound(),
                    range.end_bound()
                ),
            });
        }
        self.narrow(x, a as isize, start as isize, end - start)
    }

    /// The entry `index` (negative counts from the end) along `axis`, which is removed:
    /// `t[-1]` is `select(t, 0, -1)`, `t[:, 1]` is `select(t, 1, 1)`.
    pub fn select(&mut self, x: NodeId, axis: isize, index: isize) -> Result<NodeId> {
        self.check("select", x)?;
        let shape = self.shape(x).clone();
        let a = shape.axis("select", axis)?;
        let extent = shape.dims()[a] as isize;
        if index >= extent || index < -extent {
            return Err(Error::InvalidArgument {
                op: "select",
                message: format!("index {index} is out of range for axis {axis} of shape {shape}"),
            });
        }
        let one = self.narrow(x, axis, index, 1)?;
        let mut dims = shape.dims().to_vec();
        dims.remove(a);
        self.reshape(one, &dims)
    }

    /// `x` (the gradient of a narrow) placed at `start` along `axis` of a zero tensor with
    /// dims `dims`.
    pub fn pad(&mut self, x: NodeId, axis: usize, start: usize, dims: &[usize]) -> Result<NodeId> {
        self.check("pad", x)?;
        let inner = self.shape(x).clone();
        let outer = Shape::new(dims)?;
        let fits = inner.rank() == outer.rank()
            && axis < outer.rank()
            && (0..outer.rank())
                .all(|d| if d == axis { start + inner.dims()[d] <= dims[d] } else { inner.dims()[d] == dims[d] });
        if !fits {
            return Err(Error::ShapeMismatch {
                op: "pad",
                lhs: inner,
                rhs: outer,
                reason: format!("the first must fit in the second at {start} along axis {axis}"),
            });
        }
        if inner == outer {
            return Ok(x);
        }
        Ok(self.push(Op::Pad { axis, start }, vec![x], outer, None))
    }

    /// `x` with its axes reordered: axis d of the result is axis `order[d]` of `x` (negative
    /// counts from the end), as PyTorch's `permute`.
    pub fn permute(&mut self, x: NodeId, order: &[isize]) -> Result<NodeId> {
        self.check("permute", x)?;
        let shape = self.shape(x).clone();
        let bad = || Error::InvalidArgument {
            op: "permute",
            message: format!("{order:?} is not an order of the {} axes of shape {shape}", shape.rank()),
        };
        if order.len() != shape.rank() {
            return Err(bad());
        }
        let mut perm = [0usize; MAX_RANK];
        let mut seen = [false; MAX_RANK];
        for (d, &o) in order.iter().enumerate() {
            let a = shape.axis("permute", o).map_err(|_| bad())?;
            if seen[a] {
                return Err(bad());
            }
            seen[a] = true;
            perm[d] = a;
        }
        if (0..shape.rank()).all(|d| perm[d] == d) {
            return Ok(x);
        }
        let dims: Vec<usize> = (0..shape.rank()).map(|d| shape.dims()[perm[d]]).collect();
        Ok(self.push(Op::Permute(perm), vec![x], Shape::new(&dims)?, None))
    }

    /// `x` with axes `a` and `b` swapped (`t.T` for a matrix is `transpose(t, 0, 1)`).
    pub fn transpose(&mut self, x: NodeId, a: isize, b: isize) -> Result<NodeId> {
        self.check("transpose", x)?;
        let shape = self.shape(x).clone();
        let (a, b) = (shape.axis("transpose", a)?, shape.axis("transpose", b)?);
        let mut order: Vec<isize> = (0..shape.rank() as isize).collect();
        order.swap(a, b);
        self.permute(x, &order)
    }

    /// `x` under new dims, one of which may be -1 (inferred), as PyTorch's `view`.
    pub fn view(&mut self, x: NodeId, dims: &[isize]) -> Result<NodeId> {
        self.check("view", x)?;
        let dims = infer_dims("view", dims, self.shape(x).numel())?;
        self.reshape(x, &dims)
    }

    /// `x` without its axes of extent 1 (`None`), or without `axis` if its extent is 1.
    pub fn squeeze(&mut self, x: NodeId, axis: Option<isize>) -> Result<NodeId> {
        self.check("squeeze", x)?;
        let shape = self.shape(x).clone();
        let dims: Vec<usize> = match axis {
            None => shape.dims().iter().copied().filter(|&d| d != 1).collect(),
            Some(axis) => {
                let a = shape.axis("squeeze", axis)?;
                let mut dims = shape.dims().to_vec();
                if dims[a] == 1 {
                    dims.remove(a);
                }
                dims
            }
        };
        self.reshape(x, &dims)
    }

    /// `x` with a new axis of extent 1 at `axis` (−1: last), as PyTorch's `unsqueeze`.
    pub fn unsqueeze(&mut self, x: NodeId, axis: isize) -> Result<NodeId> {
        self.check("unsqueeze", x)?;
        let shape = self.shape(x).clone();
        let rank = shape.rank() as isize + 1;
        let a = if axis < 0 { axis + rank } else { axis };
        if a < 0 || a >= rank {
            return Err(Error::InvalidArgument {
                op: "unsqueeze",
                message: format!("axis {axis} is out of range for a new axis of shape {shape}"),
            });
        }
        let mut dims = shape.dims().to_vec();
        dims.insert(a as usize, 1);
        self.reshape(x, &dims)
    }

    /// `parts` joined along `axis` (negative counts from the end); every other extent must
    /// agree. The gradient of each part is its slice of the output's. Many parts are joined
    /// pairwise in a balanced tree, so each value is copied about log₂(parts) times.
    pub fn cat(&mut self, parts: &[NodeId], axis: isize) -> Result<NodeId> {
        let first =
            *parts.first().ok_or_else(|| Error::InvalidArgument { op: "cat", message: "no tensors to join".into() })?;
        self.check("cat", first)?;
        let a = self.shape(first).axis("cat", axis)?;
        for &part in &parts[1..] {
            self.check("cat", part)?;
            let (left, right) = (self.shape(first).clone(), self.shape(part).clone());
            let agrees =
                left.rank() == right.rank() && (0..left.rank()).all(|d| d == a || left.dims()[d] == right.dims()[d]);
            if !agrees {
                return Err(Error::ShapeMismatch {
                    op: "cat",
                    lhs: left,
                    rhs: right,
                    reason: format!("every extent but axis {axis}'s must agree"),
                });
            }
        }
        let mut level = parts.to_vec();
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for pair in level.chunks(2) {
                next.push(match *pair {
                    [left, right] => {
                        let mut dims = self.shape(left).dims().to_vec();
                        dims[a] += self.shape(right).dims()[a];
                        // Autodiff joins one set of gradients twice (a weight's products).
                        self.push_once(Op::Concat { axis: a }, vec![left, right], Shape::new(&dims)?)
                    }
                    _ => pair[0],
                });
            }
            level = next;
        }
        Ok(level[0])
    }

    /// `parts`, all of one shape, stacked along a new axis `axis`.
    pub fn stack(&mut self, parts: &[NodeId], axis: isize) -> Result<NodeId> {
        let mut lifted = Vec::with_capacity(parts.len());
        for (k, &p) in parts.iter().enumerate() {
            if k > 0 && self.shape(p) != self.shape(parts[0]) {
                return Err(Error::ShapeMismatch {
                    op: "stack",
                    lhs: self.shape(parts[0]).clone(),
                    rhs: self.shape(p).clone(),
                    reason: "stacked tensors must have one shape".into(),
                });
            }
            lifted.push(self.unsqueeze(p, axis)?);
        }
        self.cat(&lifted, axis)
    }

    /// One-hot rows `[n, classes]` of `labels` `[n]` (class indices as f32), as PyTorch's
    /// `scatter_` of ones; an index outside the classes gives a row of zeros.
    pub fn one_hot(&mut self, labels: NodeId, classes: usize) -> Result<NodeId> {
        self.check("one_hot", labels)?;
        let shape = self.shape(labels).clone();
        if shape.rank() != 1 {
            return Err(Error::InvalidArgument {
                op: "one_hot",
                message: format!("labels must be one index per row, shape [n]; got {shape}"),
            });
        }
        Ok(self.push(Op::OneHot, vec![labels], Shape::new(&[shape.dims()[0], classes])?, None))
    }

    /// The rows of `weight` `[N, D]` at `indices` (any shape of rank 0–3, indices as f32):
    /// `[…indices, D]`, as PyTorch's `nn.Embedding`; an index outside 0…N−1 gives a row of
    /// zeros and no gradient.
    pub fn embedding(&mut self, weight: NodeId, indices: NodeId) -> Result<NodeId> {
        for id in [weight, indices] {
            self.check("embedding", id)?;
        }
        let (sw, si) = (self.shape(weight).clone(), self.shape(indices).clone());
        if sw.rank() != 2 || si.rank() > 3 {
            return Err(Error::ShapeMismatch {
                op: "embedding",
                lhs: sw,
                rhs: si,
                reason: "the weight must be [rows, features] and the indices of rank 3 at most".into(),
            });
        }
        let mut dims = si.dims().to_vec();
        dims.push(sw.dims()[1]);
        Ok(self.push(Op::Embedding, vec![weight, indices], Shape::new(&dims)?, None))
    }

    /// The gradient of an embedding's weight of `rows` rows from the output's gradient: the
    /// positions sorted by index ([`Graph::index_order`]), then each row summed from its run of
    /// them, so the work follows the positions rather than rows × positions.
    pub fn embedding_backward(&mut self, grad: NodeId, indices: NodeId, rows: usize) -> Result<NodeId> {
        let features = *self.shape(grad).dims().last().unwrap_or(&1);
        let order = self.index_order(indices, rows)?;
        Ok(self.push(Op::EmbeddingBackward, vec![grad, order], Shape::new(&[rows, features])?, None))
    }

    /// `[2, n]`: the n `indices` (as f32) in ascending order, one outside 0…rows−1 counted as
    /// `rows`, and each one's position, equal indices in order of position (a stable sort).
    pub fn index_order(&mut self, indices: NodeId, rows: usize) -> Result<NodeId> {
        self.check("index_order", indices)?;
        let n = self.shape(indices).numel();
        Ok(self.push(Op::IndexOrder { rows }, vec![indices], Shape::new(&[2, n])?, None))
    }
}
