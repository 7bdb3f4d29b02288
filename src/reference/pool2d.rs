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
