//! What a training run does around the optimizer's own rule: the learning rate's schedule over
//! epochs, gradient clipping, and parameter groups with their own learning rate and weight
//! decay. Clipping and the groups are built into the training plan, so they run inside the
//! step's one submit; the schedule changes the plan's learning rates between epochs.

use crate::error::{Error, Result};

/// How the learning rate changes from epoch to epoch, as PyTorch's schedulers change it.
///
/// Epochs count from 0 here, as a scheduler's `last_epoch` does under torch 1.0 when
/// `step()` is called at the start of every epoch (the course's labs 10-5 and 10-6): epoch
/// `e` (1-based) of a run trains at `lr(e − 1)`. Under torch ≥ 1.1 the same code decays one
/// epoch earlier.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// The optimizer's learning rate throughout.
    Constant,
    /// `StepLR`: times `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// The factor of each decay.
        gamma: f32,
    },
    /// `MultiStepLR`: times `gamma` at each milestone epoch.
    MultiStep {
        /// The epochs (from 0) at which the rate decays, ascending.
        milestones: Vec<usize>,
        /// The factor of each decay.
        gamma: f32,
    },
    /// `CosineAnnealingLR`'s closed form: from the optimizer's rate down to `eta_min` over
    /// `period` epochs along half a cosine (and back up after, as PyTorch's does).
    Cosine {
        /// `T_max`: epochs from the highest rate to the lowest.
        period: usize,
        /// The lowest rate, for the optimizer's headline rate; parameter groups with a
        /// learning-rate factor have it scaled alike.
        eta_min: f32,
    },
}

impl Schedule {
    /// What the optimizer's learning rate `base` is multiplied by during `epoch` (from 0).
    pub fn factor(&self, base: f32, epoch: usize) -> f32 {
        match self {
            Schedule::Constant => 1.0,
            Schedule::Step { every, gamma } => gamma.powi((epoch / (*every).max(1)) as i32),
            Schedule::MultiStep { milestones, gamma } => {
                gamma.powi(milestones.iter().filter(|&&m| m <= epoch).count() as i32)
            }
            Schedule::Cosine { period, eta_min } => {
                let phase = std::f64::consts::PI * epoch as f64 / (*period).max(1) as f64;
                let (base, low) = (base as f64, *eta_min as f64);
                let lr = low + (base - low) * (1.0 + phase.cos()) / 2.0;
                (lr / base) as f32
            }
        }
    }

    /// Reads `constant`, `step:EVERY:GAMMA`, `multistep:M1,M2,…:GAMMA` or
    /// `cosine:PERIOD[:ETA_MIN]`.
    pub fn parse(text: &str) -> Result<Schedule> {
        let bad = |why: &str| Error::InvalidArgument {
            op: "schedule",
            message: format!(
                "'{text}': {why}; expected constant, step:EVERY:GAMMA, multistep:M1,M2,…:GAMMA or cosine:PERIOD[:ETA_MIN]"
            ),
        };
        let parts: Vec<&str> = text.split(':').collect();
        let count = |s: &str| s.trim().parse::<usize>().map_err(|_| bad(&format!("'{s}' is not a count of epochs")));
        let number = |s: &str| {
            s.trim()
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| bad(&format!("'{s}' is not a number ≥ 0")))
        };
        match parts.as_slice() {
            ["constant"] => Ok(Schedule::Constant),
            ["step", every, gamma] => {
                let every = count(every)?;
                if every == 0 {
                    return Err(bad("a step schedule decays every 1 or more epochs"));
                }
                Ok(Schedule::Step { every, gamma: number(gamma)? })
            }
            ["multistep", milestones, gamma] => {
                let milestones = milestones.split(',').map(count).collect::<Result<Vec<_>>>()?;
                if milestones.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad("milestones must ascend"));
                }
                Ok(Schedule::MultiStep { milestones, gamma: number(gamma)? })
            }
            ["cosine", period, rest @ ..] if rest.len() <= 1 => {
                let period = count(period)?;
                if period == 0 {
                    return Err(bad("a cosine schedule's period is 1 or more epochs"));
                }
                let eta_min = rest.first().map(|s| number(s)).transpose()?.unwrap_or(0.0);
                Ok(Schedule::Cosine { period, eta_min })
            }
            _ => Err(bad("unknown form")),
        }
    }
}

/// Gradient clipping before the update, over every parameter of a model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clip {
    /// `clip_grad_norm_(parameters, max_norm)`: all gradients scaled together so that their
    /// global L2 norm is at most this.
    Norm(f32),
    /// `clip_grad_value_(parameters, clip_value)`: every element clamped to ±this.
    Value(f32),
}

/// Which parameters a [`ParamGroup`] holds, by their state-dict names and dims.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamFilter {
    /// Names ending in this (`.bias`).
    Suffix(String),
    /// Parameters of one dimension: every bias and every norm layer's scale and shift (the
    /// usual "no weight decay" group).
    Vectors,
}

impl ParamFilter {
    /// True when parameter `name` of `dims` belongs.
    pub fn holds(&self, name: &str, dims: &[usize]) -> bool {
        match self {
            ParamFilter::Suffix(suffix) => name.ends_with(suffix.as_str()),
            ParamFilter::Vectors => dims.len() == 1,
        }
    }
}

/// Parameters that train with their own learning rate and weight decay, as a PyTorch
/// optimizer's parameter groups do. A parameter belongs to the first group that holds it;
/// the rest keep the optimizer's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup {
    /// Which parameters.
    pub members: ParamFilter,
    /// Their learning rate, as a multiple of the optimizer's (schedules scale it alike).
    pub lr_factor: f32,
    /// Their weight decay, in place of the optimizer's (`None`: the optimizer's).
    pub weight_decay: Option<f32>,
}

impl ParamGroup {
    /// The parameters `members` with the optimizer's settings, until changed.
    pub fn new(members: ParamFilter) -> ParamGroup {
        ParamGroup { members, lr_factor: 1.0, weight_decay: None }
    }

    /// The same group at `factor` times the optimizer's learning rate.
    pub fn lr_factor(mut self, factor: f32) -> ParamGroup {
        self.lr_factor = factor;
        self
    }

    /// The same group with weight decay `decay`.
    pub fn weight_decay(mut self, decay: f32) -> ParamGroup {
        self.weight_decay = Some(decay);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_pytorch_closed_forms() {
        let step = Schedule::Step { every: 5, gamma: 0.9 };
        let factors: Vec<f32> = (0..11).map(|e| step.factor(0.005, e)).collect();
        assert_eq!(&factors[..5], &[1.0; 5]);
        assert_eq!(factors[5], 0.9);
        assert_eq!(factors[10], 0.9f32 * 0.9);
        let multi = Schedule::MultiStep { milestones: vec![2, 4], gamma: 0.1 };
        assert_eq!([1, 2, 3, 4].map(|e| multi.factor(1.0, e)), [1.0, 0.1, 0.1, 0.1f32.powi(2)]);
        let cosine = Schedule::Cosine { period: 10, eta_min: 0.0 };
        assert_eq!(cosine.factor(0.1, 0), 1.0);
        assert!((cosine.factor(0.1, 5) - 0.5).abs() < 1e-6);
        assert!(cosine.factor(0.1, 10).abs() < 1e-6);
    }

    #[test]
    fn schedules_parse_and_bad_ones_are_named() {
        assert_eq!(Schedule::parse("step:10:0.5").unwrap(), Schedule::Step { every: 10, gamma: 0.5 });
        assert_eq!(
            Schedule::parse("multistep:30,60:0.1").unwrap(),
            Schedule::MultiStep { milestones: vec![30, 60], gamma: 0.1 }
        );
        assert_eq!(Schedule::parse("cosine:50").unwrap(), Schedule::Cosine { period: 50, eta_min: 0.0 });
        for bad in ["step:0:0.5", "multistep:60,30:0.1", "cosine", "warmup:3"] {
            let message = Schedule::parse(bad).unwrap_err().to_string();
            assert!(message.contains(bad), "{message}");
        }
    }
}
