//! Lab 11-5: sequence to sequence. A GRU encoder reads an English sentence word by word; its
//! last state starts a GRU decoder that writes the Korean one, fed the true previous word
//! (teacher forcing) in training and its own argmax when translating.
//!
//! The lab runs one pair per update, token by token. Here a pair is one padded batch of one:
//! the source padded to the longest source, stepped by its length's mask so the encoder's
//! final state is the one after its own last word; the target padded to the longest target,
//! its padded steps weighted 0 in the summed NLL. One training graph then serves every pair,
//! and each update (encoder, decoder, loss, backward, SGD) is one submit.

use super::python::str_repr;
use super::recipe::Recipe;
use crate::backend::device::Device;
use crate::backend::executor::Plan;
use crate::data::packed::Lengths;
use crate::data::pairs::{EOS, Pairs, SOS, Vocab};
use crate::error::{Error, Result};
use crate::init::Mt19937;
use crate::ir::autodiff::gradients;
use crate::ir::graph::{Graph, NodeId};
use crate::nn::{Forward, Layer, Mode, Module, ModuleExt, Recurrent};

/// The lab's four pairs, English and Korean separated by a tab.
const CORPUS: [&str; 4] = [
    "I feel hungry.\t나는 배가 고프다.",
    "Pytorch is very easy.\t파이토치는 매우 쉽다.",
    "Pytorch is a framework for deep learning.\t파이토치는 딥러닝을 위한 프레임워크이다.",
    "Pytorch is very clear to use.\t파이토치는 사용하기 매우 직관적이다.",
];

/// Pairs are kept with fewer words than these (the lab's `SOURCE_MAX_LENGTH`,
/// `TARGET_MAX_LENGTH`); a translation stops after the second.
const SOURCE_MAX_LENGTH: usize = 10;
const TARGET_MAX_LENGTH: usize = 12;

/// Features of the embeddings and of both GRUs' states.
const HIDDEN: usize = 16;

/// The lab's `Encoder`: the source words' embeddings, then a GRU.
#[derive(Clone, Debug)]
pub struct Encoder {
    embedding: Layer,
    gru: Recurrent,
}

impl Encoder {
    /// Over a vocabulary of `words`, with `hidden` features.
    pub fn new(words: usize, hidden: usize) -> Encoder {
        Encoder { embedding: Layer::Embedding { count: words, dim: hidden }, gru: Recurrent::gru(hidden, hidden) }
    }

    /// The GRU's final state `[1, B, H]` over word indices `[T, B]` (time-major), each
    /// sequence's after its own length where a `mask` `[T, B, 1]` gives them.
    pub fn encode(&self, f: &mut Forward<'_>, source: NodeId, mask: Option<NodeId>) -> Result<NodeId> {
        let embedded = f.child("embedding", &self.embedding, source)?;
        let out = f.child_with("gru", &self.gru, |f| self.gru.forward_with_state(f, embedded, None, None, mask))?;
        Ok(out.h_n)
    }
}

impl Module for Encoder {
    /// The GRU's output at every step, from a zero state.
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        let embedded = f.child("embedding", &self.embedding, x)?;
        f.child("gru", &self.gru, embedded)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("embedding".into(), &self.embedding), ("gru".into(), &self.gru)]
    }
}

/// The lab's `Decoder`: the previous target word's embedding, a GRU, a linear layer to the
/// target vocabulary, log-softmax.
#[derive(Clone, Debug)]
pub struct Decoder {
    embedding: Layer,
    gru: Recurrent,
    out: Layer,
}

impl Decoder {
    /// Over a vocabulary of `words`, with `hidden` features.
    pub fn new(hidden: usize, words: usize) -> Decoder {
        Decoder {
            embedding: Layer::Embedding { count: words, dim: hidden },
            gru: Recurrent::gru(hidden, hidden),
            out: Layer::Linear { inputs: hidden, outputs: words, bias: true },
        }
    }

    /// The log-probabilities `[T·B, V]` of each next word, given the previous words `[T, B]`
    /// (time-major) and the starting state `h0` `[1, B, H]`; and the final state.
    pub fn decode(&self, f: &mut Forward<'_>, previous: NodeId, h0: NodeId) -> Result<(NodeId, NodeId)> {
        let embedded = f.child("embedding", &self.embedding, previous)?;
        let out = f.child_with("gru", &self.gru, |f| self.gru.forward_with_state(f, embedded, Some(h0), None, None))?;
        let dims = f.graph().shape(out.output).dims().to_vec();
        let rows = f.graph().reshape(out.output, &[dims[0] * dims[1], dims[2]])?;
        let scores = f.child("out", &self.out, rows)?;
        Ok((f.graph().log_softmax(scores)?, out.h_n))
    }
}

impl Module for Decoder {
    /// The log-probabilities of each next word from a zero state.
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        let dims = f.graph().shape(x).dims().to_vec();
        let batch = dims.get(1).copied().unwrap_or(1);
        let h0 = f.graph().fill(&[1, batch, self.gru.hidden_size], 0.0)?;
        Ok(self.decode(f, x, h0)?.0)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("embedding".into(), &self.embedding), ("gru".into(), &self.gru), ("out".into(), &self.out)]
    }
}

/// The nodes a training step writes and reads.
struct Step {
    source: NodeId,
    source_mask: NodeId,
    previous: NodeId,
    target: NodeId,
    target_weight: NodeId,
    loss: NodeId,
}

/// The nodes of one decoding step: the previous word and state in, the scores and state out.
struct Decoding {
    encode: Plan,
    source: NodeId,
    source_mask: NodeId,
    encoded: NodeId,
    step: Plan,
    word: NodeId,
    state: NodeId,
    log_probs: NodeId,
    next_state: NodeId,
}

/// The encoder and decoder with their training plan (pairs padded to `source_steps` and
/// `target_steps`) and the translating plans, which share its weights.
struct Translator {
    train: Plan,
    step: Step,
    decoding: Decoding,
    source_steps: usize,
    target_steps: usize,
}

const PREFIXES: [&str; 2] = ["encoder", "decoder"];

impl Translator {
    fn new(
        device: &Device,
        encoder: &Encoder,
        decoder: &Decoder,
        steps: (usize, usize),
        lr: f32,
    ) -> Result<Translator> {
        let (source_steps, target_steps) = steps;
        let mut g = Graph::new();
        let source = g.input("source", &[source_steps, 1])?;
        let source_mask = g.input("source_mask", &[source_steps, 1, 1])?;
        let previous = g.input("previous", &[target_steps, 1])?;
        let target = g.input("target", &[target_steps])?;
        let target_weight = g.input("target_weight", &[target_steps, 1])?;
        let log_probs = {
            let mut f = Forward::new(&mut g, Mode::Train, 0, "");
            let h = f.child_with(PREFIXES[0], encoder, |f| encoder.encode(f, source, Some(source_mask)))?;
            f.child_with(PREFIXES[1], decoder, |f| decoder.decode(f, previous, h))?.0
        };
        // NLL of every real target word, summed: −Σ_t w_t · log p_t[target_t].
        let chosen = g.one_hot(target, decoder_words(decoder))?;
        let picked = g.mul(chosen, log_probs)?;
        let weighted = g.mul(picked, target_weight)?;
        let total = g.sum(weighted)?;
        let loss = g.scale(total, -1.0)?;
        let params: Vec<NodeId> = parameter_names(encoder, decoder)
            .iter()
            .map(|name| g.find(name).ok_or_else(|| Error::Graph(format!("seq2seq: no parameter {name} in the graph"))))
            .collect::<Result<_>>()?;
        let grads = gradients(&mut g, loss, None, &params)?;
        for (&p, &d) in params.iter().zip(&grads) {
            g.sgd_update(p, d, lr)?;
        }
        let train = Plan::compile(device, &g, &[loss])?;
        let decoding = Decoding::new(device, encoder, decoder, source_steps, &train)?;
        let step = Step { source, source_mask, previous, target, target_weight, loss };
        Ok(Translator { train, step, decoding, source_steps, target_steps })
    }

    /// `values` by full name (`encoder.embedding.weight`, …).
    fn write_parameters(&mut self, values: &[(String, Vec<f32>)]) -> Result<()> {
        values.iter().try_for_each(|(name, v)| self.train.write_named(name, v))
    }

    /// One update on a pair of encoded sentences; returns its summed loss.
    fn train_step(&mut self, source: &[usize], target: &[usize]) -> Result<f32> {
        let (s, t) = (self.source_steps, self.target_steps);
        let source_len = Lengths::new(&[source.len()], s)?;
        let target_len = Lengths::new(&[target.len()], t)?;
        let previous: Vec<usize> = std::iter::once(SOS).chain(target[..target.len() - 1].iter().copied()).collect();
        self.train.write(self.step.source, &padded(source, s))?;
        self.train.write(self.step.source_mask, &source_len.mask(false))?;
        self.train.write(self.step.previous, &padded(&previous, t))?;
        self.train.write(self.step.target, &padded(target, t))?;
        self.train.write(self.step.target_weight, &target_len.mask(false))?;
        Ok(self.train.run_and_read(&[self.step.loss])?[0][0])
    }

    /// The greedy translation of an encoded source: each step's argmax fed back, up to
    /// `most` words, stopping after `<EOS>`.
    fn translate(&mut self, source: &[usize], most: usize) -> Result<Vec<usize>> {
        let d = &mut self.decoding;
        let lengths = Lengths::new(&[source.len()], self.source_steps)?;
        d.encode.write(d.source, &padded(source, self.source_steps))?;
        d.encode.write(d.source_mask, &lengths.mask(false))?;
        let mut state = d.encode.run_and_read(&[d.encoded])?.remove(0);
        let (mut word, mut words) = (SOS, Vec::new());
        for _ in 0..most {
            d.step.write(d.word, &[word as f32])?;
            d.step.write(d.state, &state)?;
            let mut read = d.step.run_and_read(&[d.log_probs, d.next_state])?;
            state = read.pop().unwrap_or_default();
            let scores = read.pop().unwrap_or_default();
            word = scores.iter().enumerate().fold(0, |best, (j, &v)| if v > scores[best] { j } else { best });
            words.push(word);
            if word == EOS {
                break;
            }
        }
        Ok(words)
    }
}

impl Decoding {
    fn new(
        device: &Device,
        encoder: &Encoder,
        decoder: &Decoder,
        source_steps: usize,
        train: &Plan,
    ) -> Result<Decoding> {
        let mut g = Graph::new();
        let source = g.input("source", &[source_steps, 1])?;
        let source_mask = g.input("source_mask", &[source_steps, 1, 1])?;
        let encoded = {
            let mut f = Forward::new(&mut g, Mode::Eval, 0, "");
            f.child_with(PREFIXES[0], encoder, |f| encoder.encode(f, source, Some(source_mask)))?
        };
        let encode = Plan::compile_sharing(device, &g, &[encoded], Some(train))?;
        let mut g = Graph::new();
        let word = g.input("word", &[1, 1])?;
        let state = g.input("state", &[1, 1, HIDDEN])?;
        let (log_probs, next_state) = {
            let mut f = Forward::new(&mut g, Mode::Eval, 0, "");
            f.child_with(PREFIXES[1], decoder, |f| decoder.decode(f, word, state))?
        };
        let step = Plan::compile_sharing(device, &g, &[log_probs, next_state], Some(train))?;
        Ok(Decoding { encode, source, source_mask, encoded, step, word, state, log_probs, next_state })
    }
}

fn decoder_words(decoder: &Decoder) -> usize {
    match decoder.out {
        Layer::Linear { outputs, .. } => outputs,
        _ => 0,
    }
}

/// Every parameter's full name, the encoder's then the decoder's.
fn parameter_names(encoder: &Encoder, decoder: &Decoder) -> Vec<String> {
    let named = |prefix: &str, entries: Vec<(String, Vec<usize>)>| {
        entries.into_iter().map(move |(name, _)| format!("{prefix}.{name}")).collect::<Vec<_>>()
    };
    let mut names = named(PREFIXES[0], encoder.parameters());
    names.extend(named(PREFIXES[1], decoder.parameters()));
    names
}

/// `ids` as f32 indices, padded with `<SOS>` to `steps`.
fn padded(ids: &[usize], steps: usize) -> Vec<f32> {
    ids.iter().map(|&i| i as f32).chain(std::iter::repeat(SOS as f32)).take(steps).collect()
}

/// The words of `ids`, `<EOS>` included.
fn words(vocab: &Vocab, ids: &[usize]) -> String {
    ids.iter().map(|&i| vocab.word(i).unwrap_or("?")).collect::<Vec<_>>().join(" ")
}

/// The lab: the corpus read, a sample pair, `recipe.epochs` updates on pairs drawn by Python's
/// `random` (seeded with `random.seed(recipe.seed)`, which the lab leaves unseeded) printing
/// the mean loss per target word every `recipe.log_every`, then each pair's translation.
pub(super) fn seq2seq(recipe: &Recipe, device: &Device, out: &mut dyn FnMut(&str)) -> Result<()> {
    out("reading corpus...");
    let (pairs, read) = Pairs::read("the lab's corpus", &CORPUS, SOURCE_MAX_LENGTH, TARGET_MAX_LENGTH)?;
    out(&format!("Read {read} sentence pairs"));
    out(&format!("Trimmed to {} sentence pairs", pairs.pairs.len()));
    out("Counting words...");
    out(&format!("source vocab size = {}", pairs.source.len()));
    out(&format!("target vocab size = {}", pairs.target.len()));
    if pairs.pairs.is_empty() {
        return Err(Error::InvalidArgument { op: "seq2seq", message: "no pair is short enough to train on".into() });
    }
    let mut python = Mt19937::from_key(&[recipe.seed]);
    let count = pairs.pairs.len() as u32;
    let (s, t) = &pairs.pairs[python.below(count) as usize];
    out(&format!("[{}, {}]", str_repr(s), str_repr(t)));

    let encoder = Encoder::new(pairs.source.len(), HIDDEN);
    let decoder = Decoder::new(HIDDEN, pairs.target.len());
    let mut torch = Mt19937::new(recipe.seed).with_uniform(recipe.uniform);
    let mut start = Vec::new();
    for (prefix, module) in PREFIXES.iter().zip([&encoder as &dyn Module, &decoder]) {
        for (name, values) in module.initial_values(recipe.init, &mut torch) {
            start.push((format!("{prefix}.{name}"), values));
        }
    }
    let encoded: Vec<(Vec<usize>, Vec<usize>)> = pairs
        .pairs
        .iter()
        .map(|(s, t)| Ok((pairs.source.encode(s)?, pairs.target.encode(t)?)))
        .collect::<Result<_>>()?;
    let longest = |side: fn(&(Vec<usize>, Vec<usize>)) -> usize| encoded.iter().map(side).max().unwrap_or(1);
    let steps = (longest(|p| p.0.len()), longest(|p| p.1.len()));
    let mut translator = Translator::new(device, &encoder, &decoder, steps, recipe.optimizer.lr())?;
    translator.write_parameters(&start)?;

    let iterations = recipe.epochs;
    let drawn: Vec<usize> = (0..iterations).map(|_| python.below(count) as usize).collect();
    let every = recipe.log_every.max(1);
    let mut total = 0.0f64;
    for (i, &k) in drawn.iter().enumerate() {
        let (source, target) = &encoded[k];
        let loss = translator.train_step(source, target)?;
        if !loss.is_finite() {
            return Err(Error::InvalidArgument {
                op: "seq2seq",
                message: format!("the loss is {loss} at iteration {}: training diverged", i + 1),
            });
        }
        total += loss as f64 / target.len() as f64;
        let n = i + 1;
        if n.is_multiple_of(every) {
            let percent = n as f64 / iterations as f64 * 100.0;
            out(&format!("[{n} - {percent:?}%] loss = {:05.4}", total / every as f64));
            total = 0.0;
        }
    }

    for ((s, t), (source, _)) in pairs.pairs.iter().zip(&encoded) {
        out(&format!("> {s}"));
        out(&format!("= {t}"));
        let predicted = translator.translate(source, TARGET_MAX_LENGTH)?;
        out(&format!("< {}", words(&pairs.target, &predicted)));
        out("");
    }
    Ok(())
}
