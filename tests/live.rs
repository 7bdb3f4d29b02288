//! The live view as a browser sees it: the page, the chart it reloads, and the points behind
//! the chart, over HTTP from the server `train --live` starts.

use shadergrad::live::LiveView;
use shadergrad::plot::Curves;
use std::io::{Read, Write};
use std::net::TcpStream;

/// The status line and body of `GET path`.
fn get(port: u16, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end") + 4;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    (head.lines().next().unwrap_or_default().to_string(), response[split..].to_vec())
}

#[test]
fn the_page_shows_the_latest_curves() {
    let mut view = LiveView::serve(0, "demo <run>").unwrap();
    let (status, page) = get(view.port(), "/");
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains("src=\"/training.png\"") && page.contains("demo &lt;run&gt;"), "{page}");

    let empty = get(view.port(), "/training.png").1;
    let mut curves = Curves::new("demo <run>");
    curves.train_loss = (0..50).map(|k| (k as f64 / 10.0, 2.0 / (1.0 + k as f64))).collect();
    curves.test_accuracy = vec![(1.0, 0.5), (2.0, 0.75), (3.0, 0.8), (4.0, 0.85), (5.0, 0.9)];
    view.update(&curves, true).unwrap();
    let (status, png) = get(view.port(), "/training.png?12345");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let image = image::load_from_memory(&png).expect("a PNG").to_rgb8();
    assert_eq!(image.dimensions(), (960, 600));
    assert_ne!(png, empty, "the chart changed with the curves");

    let json: serde_json::Value = serde_json::from_slice(&get(view.port(), "/curves.json").1).unwrap();
    assert_eq!(json["test_accuracy"][4], serde_json::json!([5.0, 0.9]));
    assert_eq!(json["train_loss"].as_array().unwrap().len(), 50);
    assert_eq!(get(view.port(), "/elsewhere").0, "HTTP/1.1 404 Not Found");
}

#[test]
fn a_port_in_use_is_a_named_error() {
    let first = LiveView::serve(0, "a").unwrap();
    let message = LiveView::serve(first.port(), "b").err().expect("the port is taken").to_string();
    assert!(message.contains(&format!("127.0.0.1:{}", first.port())) && message.contains("--live PORT"), "{message}");
}
