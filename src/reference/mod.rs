//! CPU reference of every op, forward and backward, in plain f64 loops: slow and obviously
//! right, the yardstick for the GPU kernels and, through finite differences, for itself.

pub mod batch_norm;
pub mod conv2d;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod pool2d;
pub mod recurrent;
pub mod reduce;
pub mod softmax;

/// A dense row-major array of f64 with its dims.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Extent of each axis.
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

impl Array {
    /// An array from dims and values; panics if they disagree (a bug in the caller's test).
    pub fn new(dims: &[usize], data: Vec<f64>) -> Array {
        assert_eq!(dims.iter().product::<usize>(), data.len(), "reference array {dims:?}");
        Array { dims: dims.to_vec(), data }
    }

    /// An array of zeros.
    pub fn zeros(dims: &[usize]) -> Array {
        Array::new(dims, vec![0.0; dims.iter().product()])
    }

    /// Values converted to f32, as the GPU would be given them.
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }

    /// Values from f32.
    pub fn from_f32(dims: &[usize], data: &[f32]) -> Array {
        Array::new(dims, data.iter().map(|&v| v as f64).collect())
    }
}

/// The dims right-aligned into four, padded with leading ones.
pub(crate) fn pad4(dims: &[usize]) -> [usize; 4] {
    let mut out = [1; 4];
    out[4 - dims.len()..].copy_from_slice(dims);
    out
}

/// The 4-D coordinates of row-major `index` over `dims4`.
pub(crate) fn coords4(mut index: usize, dims4: [usize; 4]) -> [usize; 4] {
    let mut c = [0; 4];
    for d in (0..4).rev() {
        c[d] = index % dims4[d];
        index /= dims4[d];
    }
    c
}

/// The row-major index of `coords` in `dims4`, clamping broadcast axes (extent 1) to 0.
pub(crate) fn index4(coords: [usize; 4], dims4: [usize; 4]) -> usize {
    (0..4).fold(0, |acc, d| acc * dims4[d] + if dims4[d] == 1 { 0 } else { coords[d] })
}
