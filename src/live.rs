//! Training curves a person watches grow while `train` runs, as the course's lab 10-3 watches
//! them in visdom: a page on a local port (visdom's 8097 by default) that shows the same chart
//! as `training.png` ([`crate::plot`]) and reloads it every second.
//!
//! The server is a thread answering plain HTTP/1.1 `GET`s on 127.0.0.1 with the page
//! (`/`), the latest chart (`/training.png`) and its points (`/curves.json`); the training
//! loop hands it new curves with [`LiveView::update`], which draws at most twice a second.

use crate::error::{Error, Result};
use crate::plot::{Curves, DEFAULT_SIZE, render_png};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// visdom's port, which the course's labs open in a browser.
pub const DEFAULT_PORT: u16 = 8097;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>shadergrad: TITLE</title>
<style>body{font-family:sans-serif;margin:1em;background:#fafafa}img{max-width:100%;border:1px solid #ccc;background:#fff}</style>
</head><body>
<img id="chart" src="/training.png" alt="training curves">
<p id="status">live: the chart reloads every second while training runs</p>
<script>
// Swap the image only once the next one has loaded, so the chart never flickers.
setInterval(() => {
  const next = new Image();
  next.onload = () => { document.getElementById("chart").src = next.src; };
  next.onerror = () => { document.getElementById("status").textContent = "training has ended (the server is gone)"; };
  next.src = "/training.png?" + Date.now();
}, 1000);
</script>
</body></html>
"#;

struct Shared {
    title: String,
    png: Vec<u8>,
    json: String,
}

/// A live view being served; dropping it leaves the last chart served until the process ends.
pub struct LiveView {
    shared: Arc<Mutex<Shared>>,
    port: u16,
    drawn: Option<Instant>,
}

impl LiveView {
    /// Serves the view on 127.0.0.1:`port` (0: any free port); an address already in use is
    /// an error naming it.
    pub fn serve(port: u16, title: &str) -> Result<LiveView> {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| Error::Io {
            path: format!("127.0.0.1:{port}"),
            message: format!("cannot serve the live view there: {e} (choose another with --live PORT)"),
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        let png = render_png(&Curves::new(title), DEFAULT_SIZE.0, DEFAULT_SIZE.1)?;
        let shared = Arc::new(Mutex::new(Shared { title: title.to_string(), png, json: "{}".into() }));
        let served = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("live-view".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    // A browser that stalls must not stop the others: answer each in turn, briefly.
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = answer(stream, &served);
                }
            })
            .map_err(|e| Error::Io { path: "live-view thread".into(), message: e.to_string() })?;
        Ok(LiveView { shared, port, drawn: None })
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Shows `curves` from now on; unless `force`, skipped when the last drawing is under half
    /// a second old (drawing takes tens of milliseconds).
    pub fn update(&mut self, curves: &Curves, force: bool) -> Result<()> {
        if !force && self.drawn.is_some_and(|t| t.elapsed() < Duration::from_millis(500)) {
            return Ok(());
        }
        let png = render_png(curves, DEFAULT_SIZE.0, DEFAULT_SIZE.1)?;
        let json = serde_json::json!({
            "title": curves.title,
            "train_loss": curves.train_loss,
            "validation_loss": curves.validation_loss,
            "test_accuracy": curves.test_accuracy,
            "train_accuracy": curves.train_accuracy,
        })
        .to_string();
        let mut shared = self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        shared.png = png;
        shared.json = json;
        shared.title = curves.title.clone();
        self.drawn = Some(Instant::now());
        Ok(())
    }
}

fn answer(stream: TcpStream, shared: &Mutex<Shared>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers are read and ignored, so the browser sees its request consumed.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let (status, kind, body): (&str, &str, Vec<u8>) = {
        let shared = shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match path {
            "/" | "/index.html" => {
                ("200 OK", "text/html; charset=utf-8", PAGE.replace("TITLE", &escape(&shared.title)).into_bytes())
            }
            "/training.png" => ("200 OK", "image/png", shared.png.clone()),
            "/curves.json" => ("200 OK", "application/json", shared.json.clone().into_bytes()),
            _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
        }
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
