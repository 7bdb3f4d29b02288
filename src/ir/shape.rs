//! Tensor shapes: rank 0 to 4, row-major (NCHW for images).

use std::fmt;

/// A shape that breaks a rule, as [`Shape`]'s own checks find it; it converts into the
/// crate's [`Error`](crate::Error) as `InvalidArgument` or `ShapeMismatch`.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    /// A single shape or axis is not valid for an op.
    #[error("{op}: {message}")]
    Invalid {
        /// The op.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Two shapes do not broadcast together.
    #[error("{op}: shapes {lhs} and {rhs} do not fit: {reason}")]
    Mismatch {
        /// The op.
        op: &'static str,
        /// The first shape.
        lhs: Shape,
        /// The second shape.
        rhs: Shape,
        /// Which rule they break.
        reason: String,
    },
}

type Result<T> = std::result::Result<T, ShapeError>;

/// The highest rank a tensor may have.
pub const MAX_RANK: usize = 4;

/// The extent of each axis of a tensor, outermost first.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// A shape from its dimensions; fails for rank above [`MAX_RANK`] or a zero extent.
    pub fn new(dims: &[usize]) -> Result<Shape> {
        if dims.len() > MAX_RANK {
            return Err(ShapeError::Invalid {
                op: "shape",
                message: format!("rank {} of {:?} is above the maximum of {MAX_RANK}", dims.len(), dims),
            });
        }
        if dims.contains(&0) {
            return Err(ShapeError::Invalid {
                op: "shape",
                message: format!("{dims:?} has an empty axis; tensors must hold at least one value"),
            });
        }
        Ok(Shape(dims.to_vec()))
    }

    /// The shape of a single number.
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Row-major strides, in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.rank()];
        for d in (0..self.rank().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * self.0[d + 1];
        }
        strides
    }

    /// The dims right-aligned into four, padded with leading ones: the form kernels index with.
    pub fn padded4(&self) -> [usize; MAX_RANK] {
        let mut out = [1; MAX_RANK];
        out[MAX_RANK - self.rank()..].copy_from_slice(&self.0);
        out
    }

    /// NumPy broadcasting of two shapes, or an error naming `op` and both shapes.
    pub fn broadcast(op: &'static str, a: &Shape, b: &Shape) -> Result<Shape> {
        let rank = a.rank().max(b.rank());
        let (pa, pb) = (a.padded_to(rank), b.padded_to(rank));
        let mut out = Vec::with_capacity(rank);
        for (d, (&x, &y)) in pa.iter().zip(&pb).enumerate() {
            out.push(match (x, y) {
                _ if x == y => x,
                (1, _) => y,
                (_, 1) => x,
                _ => {
                    return Err(ShapeError::Mismatch {
                        op,
                        lhs: a.clone(),
                        rhs: b.clone(),
                        reason: format!(
                            "axis {d} (counted after right-aligning) has {x} and {y}; broadcasting needs them equal or one of them 1"
                        ),
                    })
                }
            });
        }
        Ok(Shape(out))
    }

    /// Strides for reading a tensor of this shape over the (broadcast) shape it is combined
    /// into, right-aligned to four axes: every axis of extent 1 gets stride 0, so it repeats.
    pub fn broadcast_strides4(&self) -> [usize; MAX_RANK] {
        let own = self.padded4();
        let mut strides = [0; MAX_RANK];
        let mut step = 1;
        for d in (0..MAX_RANK).rev() {
            strides[d] = if own[d] == 1 { 0 } else { step };
            step *= own[d];
        }
        strides
    }

    fn padded_to(&self, rank: usize) -> Vec<usize> {
        let mut out = vec![1; rank - self.rank()];
        out.extend_from_slice(&self.0);
        out
    }

    /// Normalizes an axis that may count from the end (-1 is the last), for `op`.
    pub fn axis(&self, op: &'static str, axis: isize) -> Result<usize> {
        let rank = self.rank() as isize;
        let a = if axis < 0 { axis + rank } else { axis };
        if a < 0 || a >= rank {
            return Err(ShapeError::Invalid { op, message: format!("axis {axis} is out of range for shape {self}") });
        }
        Ok(a as usize)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        let s = |d: &[usize]| Shape::new(d).unwrap();
        assert_eq!(Shape::broadcast("add", &s(&[4, 3]), &s(&[3])).unwrap(), s(&[4, 3]));
        assert_eq!(Shape::broadcast("add", &s(&[2, 1]), &s(&[1, 2])).unwrap(), s(&[2, 2]));
        assert_eq!(Shape::broadcast("add", &s(&[5]), &Shape::scalar()).unwrap(), s(&[5]));
        let err = Shape::broadcast("add", &s(&[4, 3]), &s(&[4])).unwrap_err().to_string();
        assert!(err.contains("add") && err.contains("[4, 3]") && err.contains("[4]"), "{err}");
    }

    #[test]
    fn broadcast_strides_zero_the_expanded_axes() {
        let bias = Shape::new(&[1, 3, 1, 1]).unwrap();
        assert_eq!(bias.broadcast_strides4(), [0, 1, 0, 0]);
        let row = Shape::new(&[5]).unwrap();
        assert_eq!(row.broadcast_strides4(), [0, 0, 0, 1]);
        let full = Shape::new(&[2, 3, 4]).unwrap();
        assert_eq!(full.broadcast_strides4(), [0, 12, 4, 1]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(Shape::new(&[1, 2, 3, 4, 5]).is_err());
        assert!(Shape::new(&[3, 0]).is_err());
    }
}
