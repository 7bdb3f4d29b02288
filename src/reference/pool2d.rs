//! Max and average pooling over 2-D windows, and their gradients.

use super::Array;
use crate::ir::ops::window::Window;

/// For each output element, the in-bounds input indices of its window, in row-major order.
fn windows(x: &[usize], win: &Window) -> (Vec<usize>, Vec<Vec<usize>>) {
    let (planes, h, w) = (x[0] * x[1], x[2], x[3]);
    let oh = (h + 2 * win.padding[0] - win.kernel[0]) / win.stride[0] + 1;
    let ow = (w + 2 * win.padding[1] - win.kernel[1]) / win.stride[1] + 1;
    let mut all = Vec::new();
    for plane in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut members = Vec::new();
                for dy in 0..win.kernel[0] {
                    for dx in 0..win.kernel[1] {
                        let iy = (oy * win.stride[0] + dy) as isize - win.padding[0] as isize;
                        let ix = (ox * win.stride[1] + dx) as isize - win.padding[1] as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            members.push((plane * h + iy as usize) * w + ix as usize);
                        }
                    }
                }
                all.push(members);
            }
        }
    }
    (vec![x[0], x[1], oh, ow], all)
}

/// The first index of the largest value among `members`.
fn first_max(x: &Array, members: &[usize]) -> usize {
    let mut best = members[0];
    for &i in members {
        if x.data[i] > x.data[best] {
            best = i;
        }
    }
    best
}

/// Max (`max`) or average pooling.
pub fn pool2d(max: bool, x: &Array, win: &Window) -> Array {
    let (dims, all) = windows(&x.dims, win);
    let size = (win.kernel[0] * win.kernel[1]) as f64;
    let data = all
        .iter()
        .map(|m| if max { x.data[first_max(x, m)] } else { m.iter().map(|&i| x.data[i]).sum::<f64>() / size })
        .collect();
    Array::new(&dims, data)
}

/// The gradient of x given the output's gradient `g`.
pub fn pool2d_backward(max: bool, x: &Array, win: &Window, g: &Array) -> Array {
    let (_, all) = windows(&x.dims, win);
    let size = (win.kernel[0] * win.kernel[1]) as f64;
    let mut dx = Array::zeros(&x.dims);
    for (o, members) in all.iter().enumerate() {
        if max {
            dx.data[first_max(x, members)] += g.data[o];
        } else {
            members.iter().for_each(|&i| dx.data[i] += g.data[o] / size);
        }
    }
    dx
}

/// Adaptive average pooling of x `[N, C, H, W]` to `[oh, ow]` with PyTorch's bins.
pub fn adaptive_avg_pool2d(x: &Array, output: [usize; 2]) -> Array {
    let (bins, dims) = adaptive_bins(&x.dims, output);
    let data = bins.iter().map(|m| m.iter().map(|&j| x.data[j]).sum::<f64>() / m.len() as f64).collect();
    Array::new(&dims, data)
}

/// Its gradient: each output's gradient shared evenly by the inputs of its bin.
pub fn adaptive_avg_pool2d_backward(x: &Array, output: [usize; 2], grad: &Array) -> Array {
    let (bins, _) = adaptive_bins(&x.dims, output);
    let mut dx = vec![0.0; x.data.len()];
    for (members, g) in bins.iter().zip(&grad.data) {
        for &j in members {
            dx[j] += g / members.len() as f64;
        }
    }
    Array::new(&x.dims, dx)
}

/// Every output's input indices, in row-major output order, and the output's dims.
fn adaptive_bins(x: &[usize], output: [usize; 2]) -> (Vec<Vec<usize>>, Vec<usize>) {
    use crate::ir::composite::adaptive_bin;
    let (planes, h, w) = (x[0] * x[1], x[2], x[3]);
    let mut all = Vec::new();
    for plane in 0..planes {
        for oy in 0..output[0] {
            let (y0, y1) = adaptive_bin(oy, h, output[0]);
            for ox in 0..output[1] {
                let (x0, x1) = adaptive_bin(ox, w, output[1]);
                all.push((y0..y1).flat_map(|iy| (x0..x1).map(move |ix| (plane * h + iy) * w + ix)).collect());
            }
        }
    }
    (all, vec![x[0], x[1], output[0], output[1]])
}
