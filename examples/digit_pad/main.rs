//! A windowed application that embeds shadergrad: draw a digit with the mouse and watch an
//! MNIST model's ten probabilities change as you draw. One wgpu device serves the window and
//! the model; each frame is one submit in which the drawing (kept on the GPU) is
//! preprocessed on the GPU as `shadergrad predict` preprocesses an image, the CNN runs
//! (its plan recorded into the frame's encoder, its input bound to the pad's buffer), and a
//! render pass draws the canvas and the bars straight from the model's output buffer. The
//! frame loop reads nothing back.
//!
//! Keys: C, Backspace, Delete or Space clear the pad; Escape quits.
//!
//! Run: `cargo run --release --example digit_pad -- --model tests/torch/mnist_cnn.safetensors --arch mnist-cnn`
//!
//! For tests and screenshots, `--replay IMAGE --screenshot OUT.png` loads IMAGE into the pad
//! as if drawn, renders one frame, writes it as a PNG, prints `prediction: D` (or
//! `prediction: no digit`) and exits.

use clap::Parser;
use shadergrad::recipes::{ModelFile, digit_model};
use shadergrad::{Device, DeviceOptions, Inference};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, MouseButton, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Window, WindowId};

/// The canvas's side in pixels (ten times MNIST's).
const SIDE: u32 = 280;
/// The window: the canvas and the bars beside it.
const WIDTH: u32 = 600;
const HEIGHT: u32 = 300;
/// Where the canvas starts in the window (draw.wgsl's MARGIN).
const MARGIN: f64 = 10.0;
/// Stroke segments one frame carries (pad.wgsl's MAX_SEGMENTS).
const MAX_SEGMENTS: usize = 64;
/// The pen's radius in canvas pixels: MNIST's strokes are about 2 of its 28 pixels wide.
const PEN: f32 = 10.0;
/// The screenshot's format: PNG's byte order, sRGB like a surface.
const SCREENSHOT_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

type Failure = Box<dyn std::error::Error>;

#[derive(Parser)]
#[command(about = "Draw a digit; an MNIST model reads it on the GPU as you draw")]
struct Args {
    /// The model: a checkpoint of an MNIST recipe (`train --out`) or a PyTorch state dict.
    #[arg(long)]
    model: PathBuf,
    /// The model's architecture (a recipe's name), for a file that names none.
    #[arg(long)]
    arch: Option<String>,
    /// Load this image into the pad as if drawn, render one frame and exit.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// With --replay: write the frame to this PNG.
    #[arg(long, requires = "replay")]
    screenshot: Option<PathBuf>,
}

/// The pad: the window's surface, the model, and the GPU state of the drawing.
struct Pad {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    device: Device,
    model: Inference,
    strokes: wgpu::Buffer,
    found: wgpu::Buffer,
    compute_group: wgpu::BindGroup,
    stroke: wgpu::ComputePipeline,
    preprocess: wgpu::ComputePipeline,
    draw_layout: wgpu::PipelineLayout,
    draw_module: wgpu::ShaderModule,
    draw: wgpu::RenderPipeline,
    draw_group: wgpu::BindGroup,
    /// Segments drawn since the last frame, in canvas pixels: (from, to).
    segments: Vec<[f32; 4]>,
    clear: bool,
    pen_down: bool,
    last: Option<[f32; 2]>,
}

fn storage(device: &wgpu::Device, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | extra,
        mapped_at_creation: false,
    })
}

fn storage_entry(binding: u32, visibility: wgpu::ShaderStages, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn bind_group(device: &wgpu::Device, layout: &wgpu::BindGroupLayout, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(k, b)| wgpu::BindGroupEntry { binding: k as u32, resource: b.as_entire_binding() })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout, entries: &entries })
}

fn draw_pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    format: wgpu::TextureFormat,
) -> wgpu::RenderPipeline {
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("digit pad frame"),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("fullscreen"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some("frame"),
            compilation_options: Default::default(),
            targets: &[Some(format.into())],
        }),
        primitive: Default::default(),
        depth_stencil: None,
        multisample: Default::default(),
        multiview_mask: None,
        cache: None,
    })
}

/// An image as the pad's gray levels in [0, 1]: fitted into the canvas keeping its aspect
/// ratio, on its own border's gray.
fn replay_canvas(path: &Path) -> Result<Vec<f32>, Failure> {
    let gray = image::open(path).map_err(|e| format!("{}: {e}", path.display()))?.to_luma8();
    let (w, h) = gray.dimensions();
    let border: Vec<f64> = (0..w)
        .flat_map(|x| [gray.get_pixel(x, 0)[0], gray.get_pixel(x, h - 1)[0]])
        .chain((0..h).flat_map(|y| [gray.get_pixel(0, y)[0], gray.get_pixel(w - 1, y)[0]]))
        .map(f64::from)
        .collect();
    let paper = (border.iter().sum::<f64>() / border.len() as f64).round() as u8;
    let scale = SIDE as f64 / w.max(h) as f64;
    let (fw, fh) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
    let fitted = image::imageops::resize(&gray, fw, fh, image::imageops::FilterType::Triangle);
    let mut canvas = image::GrayImage::from_pixel(SIDE, SIDE, image::Luma([paper]));
    image::imageops::overlay(&mut canvas, &fitted, ((SIDE - fw) / 2) as i64, ((SIDE - fh) / 2) as i64);
    Ok(canvas.pixels().map(|p| p[0] as f32 / 255.0).collect())
}

impl Pad {
    fn new(event_loop: &ActiveEventLoop, args: &Args) -> Result<Pad, Failure> {
        let attributes = Window::default_attributes()
            .with_title("shadergrad digit pad: draw a digit (C clears)")
            .with_inner_size(PhysicalSize::new(WIDTH, HEIGHT))
            .with_resizable(false);
        let window = Arc::new(event_loop.create_window(attributes)?);
        let mut descriptor =
            wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(event_loop.owned_display_handle()));
        if let Some(backends) = DeviceOptions::from_env()?.backend {
            descriptor.backends = backends;
        }
        let instance = wgpu::Instance::new(descriptor);
        let surface = instance.create_surface(window.clone())?;
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            compatible_surface: Some(&surface),
            ..Default::default()
        }))?;
        let (app, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("digit pad"),
            required_limits: adapter.limits(),
            ..Default::default()
        }))?;
        let mut config =
            surface.get_default_config(&adapter, WIDTH, HEIGHT).ok_or("the adapter cannot present to this window")?;
        config.usage = wgpu::TextureUsages::RENDER_ATTACHMENT;
        surface.configure(&app, &config);

        // The model runs on the window's device, reading the pad's digit buffer.
        let device = Device::from_wgpu(app.clone(), queue.clone());
        let file = ModelFile { arch: args.arch.clone(), ..ModelFile::new(&args.model) };
        let (mut model, _) = digit_model(&device, &file, 1)?;
        let copy = wgpu::BufferUsages::COPY_SRC;
        let canvas = storage(&app, "canvas", (SIDE * SIDE * 4) as u64, copy);
        let strokes = storage(&app, "strokes", 16 + 16 * MAX_SEGMENTS as u64, wgpu::BufferUsages::empty());
        let digit = storage(&app, "digit", 28 * 28 * 4, copy);
        let found = storage(&app, "found", 4, copy);
        model.bind_input(&digit)?;
        let logits = model.output_buffer()?.clone();
        let paper = match &args.replay {
            Some(path) => replay_canvas(path)?,
            None => vec![1.0; (SIDE * SIDE) as usize],
        };
        queue.write_buffer(&canvas, 0, bytemuck::cast_slice(&paper));

        let compute = wgpu::ShaderStages::COMPUTE;
        let compute_layout = app.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("pad"),
            entries: &[
                storage_entry(0, compute, false),
                storage_entry(1, compute, true),
                storage_entry(2, compute, false),
                storage_entry(3, compute, false),
            ],
        });
        let pad_module = app.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("pad.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("pad.wgsl").into()),
        });
        let layout = app.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("pad"),
            bind_group_layouts: &[Some(&compute_layout)],
            immediate_size: 0,
        });
        let kernel = |entry: &str| {
            app.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&layout),
                module: &pad_module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let (stroke, preprocess) = (kernel("stroke"), kernel("preprocess"));
        let compute_group = bind_group(&app, &compute_layout, &[&canvas, &strokes, &digit, &found]);

        let fragment = wgpu::ShaderStages::FRAGMENT;
        let draw_bindings = app.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("frame"),
            entries: &[
                storage_entry(0, fragment, true),
                storage_entry(1, fragment, true),
                storage_entry(2, fragment, true),
            ],
        });
        let draw_layout = app.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("frame"),
            bind_group_layouts: &[Some(&draw_bindings)],
            immediate_size: 0,
        });
        let draw_module = app.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("draw.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("draw.wgsl").into()),
        });
        let draw = draw_pipeline(&app, &draw_layout, &draw_module, config.format);
        let draw_group = bind_group(&app, &draw_bindings, &[&canvas, &logits, &found]);
        Ok(Pad {
            window,
            surface,
            config,
            device,
            model,
            strokes,
            found,
            compute_group,
            stroke,
            preprocess,
            draw_layout,
            draw_module,
            draw,
            draw_group,
            segments: Vec::new(),
            clear: false,
            pen_down: false,
            last: None,
        })
    }

    fn app(&self) -> &wgpu::Device {
        self.device.wgpu_device()
    }

    /// The window position `(x, y)` in canvas pixels.
    fn on_canvas(x: f64, y: f64) -> [f32; 2] {
        [(x - MARGIN) as f32, (y - MARGIN) as f32]
    }

    fn pen_moved(&mut self, to: [f32; 2]) {
        if self.pen_down && self.segments.len() < MAX_SEGMENTS {
            let from = self.last.unwrap_or(to);
            self.segments.push([from[0], from[1], to[0], to[1]]);
        }
        self.last = Some(to);
    }

    fn render_pass(
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        pipeline: &wgpu::RenderPipeline,
        group: &wgpu::BindGroup,
    ) {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("digit pad frame"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations { load: wgpu::LoadOp::Clear(wgpu::Color::BLACK), store: wgpu::StoreOp::Store },
            })],
            ..Default::default()
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.draw(0..3, 0..1);
    }

    /// One frame in one submit: new strokes, preprocessing, the model, the render pass (and,
    /// for a screenshot, the same pass into a texture copied out). Returns the screenshot's
    /// padded rows and the digit flag's buffer, to read after the submit.
    fn frame(&mut self, screenshot: bool) -> Result<Option<(wgpu::Buffer, wgpu::Buffer)>, Failure> {
        let texture = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(self.app(), &self.config);
                return Ok(None);
            }
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => return Ok(None),
            wgpu::CurrentSurfaceTexture::Validation => return Err("the surface's texture failed validation".into()),
        };
        let app = self.app().clone();
        let queue = self.device.queue().clone();
        let mut encoder =
            app.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("digit pad frame") });
        if self.clear || !self.segments.is_empty() {
            let header = [self.segments.len() as u32, PEN.to_bits(), self.clear as u32, 0];
            let mut words: Vec<u32> = header.to_vec();
            words.extend(self.segments.iter().flatten().map(|v| v.to_bits()));
            queue.write_buffer(&self.strokes, 0, bytemuck::cast_slice(&words));
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.stroke);
            pass.set_bind_group(0, &self.compute_group, &[]);
            pass.dispatch_workgroups(SIDE.div_ceil(16), SIDE.div_ceil(16), 1);
            self.segments.clear();
            self.clear = false;
        }
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.preprocess);
            pass.set_bind_group(0, &self.compute_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        self.model.record(&mut encoder)?;
        let view = texture.texture.create_view(&Default::default());
        Pad::render_pass(&mut encoder, &view, &self.draw, &self.draw_group);
        let mut readbacks = None;
        if screenshot {
            let size = wgpu::Extent3d { width: WIDTH, height: HEIGHT, depth_or_array_layers: 1 };
            let target = app.create_texture(&wgpu::TextureDescriptor {
                label: Some("screenshot"),
                size,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: SCREENSHOT_FORMAT,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            });
            let pipeline = draw_pipeline(&app, &self.draw_layout, &self.draw_module, SCREENSHOT_FORMAT);
            Pad::render_pass(&mut encoder, &target.create_view(&Default::default()), &pipeline, &self.draw_group);
            let read = |label, size| {
                app.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                })
            };
            let pixels = read("screenshot rows", padded_row() as u64 * HEIGHT as u64);
            encoder.copy_texture_to_buffer(
                target.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: &pixels,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(padded_row()),
                        rows_per_image: None,
                    },
                },
                size,
            );
            let found = read("digit found", 4);
            encoder.copy_buffer_to_buffer(&self.found, 0, &found, 0, 4);
            readbacks = Some((pixels, found));
        }
        queue.submit([encoder.finish()]);
        self.window.pre_present_notify();
        queue.present(texture);
        Ok(readbacks)
    }

    /// The replay's end: the frame as a PNG, and the prediction printed.
    fn finish_replay(
        &mut self,
        pixels: &wgpu::Buffer,
        found: &wgpu::Buffer,
        out: Option<&Path>,
    ) -> Result<(), Failure> {
        let rows = map(self.app(), pixels)?;
        if let Some(out) = out {
            let row = (WIDTH * 4) as usize;
            let image: Vec<u8> = rows.chunks(padded_row() as usize).flat_map(|r| &r[..row]).copied().collect();
            image::RgbaImage::from_raw(WIDTH, HEIGHT, image).ok_or("a frame of the window's size")?.save(out)?;
        }
        let digit = map(self.app(), found)?[0] != 0;
        let logits = self.model.read_output()?;
        let best = logits.iter().enumerate().fold(0, |b, (j, v)| if *v > logits[b] { j } else { b });
        if digit {
            println!("prediction: {best}");
        } else {
            println!("prediction: no digit");
        }
        Ok(())
    }
}

/// Bytes per row of the screenshot's copy, padded as copies need.
fn padded_row() -> u32 {
    (WIDTH * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT
}

fn map(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Result<Vec<u8>, Failure> {
    buffer.slice(..).map_async(wgpu::MapMode::Read, |r| r.expect("map a readback buffer"));
    device.poll(wgpu::PollType::wait_indefinitely())?;
    let bytes = buffer.slice(..).get_mapped_range()?.to_vec();
    buffer.unmap();
    Ok(bytes)
}

struct App {
    args: Args,
    pad: Option<Pad>,
    failure: Option<Failure>,
}

impl App {
    fn handle(&mut self, event_loop: &ActiveEventLoop, event: WindowEvent) -> Result<(), Failure> {
        let Some(pad) = self.pad.as_mut() else { return Ok(()) };
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => match event.logical_key
            {
                Key::Named(NamedKey::Escape) => event_loop.exit(),
                Key::Named(NamedKey::Backspace | NamedKey::Delete | NamedKey::Space) => pad.clear = true,
                Key::Character(c) if c.eq_ignore_ascii_case("c") => pad.clear = true,
                _ => {}
            },
            WindowEvent::MouseInput { state, button: MouseButton::Left, .. } => {
                pad.pen_down = state == ElementState::Pressed;
                if let Some(at) = pad.last.filter(|_| pad.pen_down) {
                    pad.pen_moved(at);
                }
            }
            WindowEvent::CursorMoved { position, .. } => pad.pen_moved(Pad::on_canvas(position.x, position.y)),
            WindowEvent::CursorLeft { .. } => pad.last = None,
            WindowEvent::RedrawRequested => {
                let replay = self.args.replay.is_some();
                if let Some((pixels, found)) = pad.frame(replay)? {
                    pad.finish_replay(&pixels, &found, self.args.screenshot.as_deref())?;
                    event_loop.exit();
                    return Ok(());
                }
                pad.window.request_redraw();
            }
            _ => {}
        }
        Ok(())
    }
}

impl ApplicationHandler for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.pad.is_some() {
            return;
        }
        match Pad::new(event_loop, &self.args) {
            Ok(pad) => {
                pad.window.request_redraw();
                self.pad = Some(pad);
            }
            Err(e) => {
                self.failure = Some(e);
                event_loop.exit();
            }
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        if let Err(e) = self.handle(event_loop, event) {
            self.failure = Some(e);
            event_loop.exit();
        }
    }
}

fn main() -> Result<(), Failure> {
    let mut app = App { args: Args::parse(), pad: None, failure: None };
    EventLoop::new()?.run_app(&mut app)?;
    match app.failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
