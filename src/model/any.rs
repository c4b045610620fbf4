//! Any model bitplan loads by name or path: an image classifier (CNN reference names, weight
//! files with `--arch`) or a sequence model (minilm, smollm2, GGUF files, Hugging Face dirs).
//! Commands that only need the layer graph or the weights (cost, search) take either.

use super::reference::{load_image_classifier, ImageClassifier};
use super::sequence::SequenceModel;
use super::{Graph, ModelError, RunnableModel};

pub enum AnyModel {
    Image(Box<ImageClassifier>),
    Sequence(Box<SequenceModel>),
}

impl AnyModel {
    /// A sequence model when `model` names one and no `--arch` was given, else an image
    /// classifier (whose loader lists every valid name when `model` is neither).
    pub fn load(model: &str, arch: Option<&str>) -> Result<Self, ModelError> {
        if arch.is_none() && SequenceModel::claims(model) {
            return Ok(Self::Sequence(Box::new(SequenceModel::load(model)?)));
        }
        Ok(Self::Image(Box::new(load_image_classifier(model, arch)?)))
    }

    pub fn runnable(&self) -> &dyn RunnableModel {
        match self {
            Self::Image(classifier) => &classifier.model,
            Self::Sequence(sequence) => sequence.runnable(),
        }
    }

    pub fn graph(&self) -> &Graph {
        self.runnable().graph()
    }
}
