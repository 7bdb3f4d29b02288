//! The course's labs (../shared/COURSE.md) as named recipes: data, model, init, loss,
//! optimizer and schedule, with the course's settings as defaults: the table of them
//! (`catalog`), training with them (`run`), and using saved weights (`saved`).

mod advanced_cnn;
mod catalog;
mod packed_sequence;
mod python;
mod recipe;
mod recurrent;
mod run;
mod saved;
mod seq2seq;

pub use catalog::{all, architecture, find};
pub use recipe::{Architecture, Members, ModelFile, Overrides, Recipe, Shows, Source, load, printout};
pub use recurrent::{preamble, step_line};
pub use run::{Paths, Progress, SMALL_MODEL, Summary, checkpoint_path, run};
pub use saved::{Evaluated, Inferred, Prediction, Predictions, digit_model, evaluate_checkpoint, infer, predict};
