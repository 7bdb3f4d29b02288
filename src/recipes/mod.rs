//! The course's labs (../shared/COURSE.md) as named recipes: data, model, init, loss,
//! optimizer and schedule, with the course's settings as defaults: the table of them
//! (`catalog`), and training, evaluating and predicting with them (`run`).

mod catalog;
mod recipe;
mod run;

pub use catalog::{all, find};
pub use recipe::{Members, Overrides, Recipe, Source, load};
pub use run::{Paths, Prediction, Progress, SMALL_MODEL, Summary, checkpoint_path, evaluate_checkpoint, predict, run};
