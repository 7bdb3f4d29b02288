//! What several test files share.

/// Holds `got` to `want` within `tolerance` normwise (‖got − want‖ / ‖want‖), naming the
/// worst entry.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let (mut diff, mut norm, mut worst) = (0.0f64, 0.0f64, (0, 0.0f64));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let d = (g as f64 - w as f64).abs();
        diff += d * d;
        norm += (w as f64).powi(2);
        if d > worst.1 {
            worst = (i, d);
        }
    }
    let relative = (diff / norm.max(1e-30)).sqrt();
    let (i, d) = worst;
    assert!(
        relative <= tolerance,
        "{what}: normwise error {relative:e}; worst at {i}: {} vs {} (|Δ| {d:e})",
        got[i],
        want[i]
    );
}
