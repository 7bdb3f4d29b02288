//! 2-D convolution (cross-correlation) on NCHW, and its gradients.

use super::Array;
use crate::ir::ops::window::Window;

/// Visits every (output index, input index, filter index) triple whose product the
/// convolution sums: the one loop nest the forward pass and both gradients share.
fn each_product(x: &[usize], w: &[usize], win: &Window, mut visit: impl FnMut(usize, usize, usize)) -> [usize; 2] {
    let (n, c, h, wd) = (x[0], x[1], x[2], x[3]);
    let (k, kh, kw) = (w[0], w[2], w[3]);
    let oh = (h + 2 * win.padding[0] - kh) / win.stride[0] + 1;
    let ow = (wd + 2 * win.padding[1] - kw) / win.stride[1] + 1;
    for b in 0..n {
        for o in 0..k {
            for oy in 0..oh {
                for ox in 0..ow {
                    let out = ((b * k + o) * oh + oy) * ow + ox;
                    for ci in 0..c {
                        for dy in 0..kh {
                            for dx in 0..kw {
                                let iy = (oy * win.stride[0] + dy) as isize - win.padding[0] as isize;
                                let ix = (ox * win.stride[1] + dx) as isize - win.padding[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let input = ((b * c + ci) * h + iy as usize) * wd + ix as usize;
                                let tap = ((o * c + ci) * kh + dy) * kw + dx;
                                visit(out, input, tap);
                            }
                        }
                    }
                }
            }
        }
    }
    [oh, ow]
}

/// conv2d(x, w) with stride and padding.
pub fn conv2d(x: &Array, w: &Array, stride: [usize; 2], padding: [usize; 2]) -> Array {
    let win = Window { kernel: [w.dims[2], w.dims[3]], stride, padding };
    let mut sums = Vec::new();
    let [oh, ow] = each_product(&x.dims, &w.dims, &win, |out, input, tap| {
        if out >= sums.len() {
            sums.resize(out + 1, 0.0);
        }
        sums[out] += x.data[input] * w.data[tap];
    });
    let dims = [x.dims[0], w.dims[0], oh, ow];
    sums.resize(dims.iter().product(), 0.0);
    Array::new(&dims, sums)
}

/// Gradients of x and w given the output's gradient `g`.
pub fn conv2d_backward(x: &Array, w: &Array, stride: [usize; 2], padding: [usize; 2], g: &Array) -> (Array, Array) {
    let win = Window { kernel: [w.dims[2], w.dims[3]], stride, padding };
    let mut dx = Array::zeros(&x.dims);
    let mut dw = Array::zeros(&w.dims);
    each_product(&x.dims, &w.dims, &win, |out, input, tap| {
        dx.data[input] += g.data[out] * w.data[tap];
        dw.data[tap] += g.data[out] * x.data[input];
    });
    (dx, dw)
}
