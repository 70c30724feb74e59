//! [`Model::judge`]: a pairwise comparison that cannot favour an answer for where it stands or
//! what it is called. The two answers are PINE segments (no position bias: PINE's output does
//! not depend on their order), and the comparison runs twice with the labels swapped (no label
//! bias); the verdict is read from the log-probabilities of the two label tokens, averaged
//! over both labellings. `judge(q, a, b)` and `judge(q, b, a)` therefore give the same verdict
//! with the same numbers, bit for bit.

use pine_attention::{AttentionMode, TieRule};

use crate::error::{Error, Result};
use crate::load::Model;
use crate::logprob::logprobs_of;
use crate::prompt::SegmentedPrompt;

/// The labels the judge reads the answers by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Labels {
    /// "A" and "B".
    #[default]
    Letters,
    /// "1" and "2".
    Digits,
}

impl Labels {
    fn names(self) -> [&'static str; 2] {
        match self {
            Labels::Letters => ["A", "B"],
            Labels::Digits => ["1", "2"],
        }
    }
}

/// How [`Model::judge`] asks.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct JudgeOptions {
    /// The system message.
    pub system: String,
    /// The labels of the answers.
    pub labels: Labels,
    /// The attention mode the answers are read under (PINE with hash ties: exactly
    /// order-invariant).
    pub mode: AttentionMode,
}

impl Default for JudgeOptions {
    fn default() -> Self {
        JudgeOptions {
            system: "You are a fair judge. You compare two answers to a question and reply \
                     with the label of the better one."
                .into(),
            labels: Labels::Letters,
            mode: AttentionMode::Pine(TieRule::ContentHash),
        }
    }
}

impl JudgeOptions {
    /// The defaults: a fair-judge system message, letters, PINE.
    pub fn new() -> Self {
        JudgeOptions::default()
    }

    /// Sets the system message.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = system.into();
        self
    }

    /// Sets the labels.
    pub fn labels(mut self, labels: Labels) -> Self {
        self.labels = labels;
        self
    }

    /// Sets the attention mode (causal shows the position bias PINE removes).
    pub fn mode(mut self, mode: AttentionMode) -> Self {
        self.mode = mode;
        self
    }
}

/// Which answer the judge prefers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preference {
    /// The first argument (`answer_a`).
    A,
    /// The second argument (`answer_b`).
    B,
    /// Exactly equal log-probabilities.
    Tie,
}

/// A judge's verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// The preferred answer.
    pub preferred: Preference,
    /// The mean log-probability of `answer_a`'s label over both labellings.
    pub logprob_a: f32,
    /// The same for `answer_b`.
    pub logprob_b: f32,
}

impl Model {
    /// Compares two answers to `question` (see the [module docs](crate::judge)).
    ///
    /// ```no_run
    /// # fn main() -> pine::Result<()> {
    /// let mut model = pine::Model::load("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
    /// let v = model.judge(
    ///     "At what temperature does water boil at sea level?",
    ///     "100 °C",
    ///     "50 °C",
    ///     &pine::JudgeOptions::new(),
    /// )?;
    /// println!("{:?} ({} vs {})", v.preferred, v.logprob_a, v.logprob_b);
    /// # Ok(())
    /// # }
    /// ```
    pub fn judge(
        &mut self,
        question: &str,
        answer_a: &str,
        answer_b: &str,
        opts: &JudgeOptions,
    ) -> Result<Verdict> {
        let names = opts.labels.names();
        let ids = [self.label_token(names[0])?, self.label_token(names[1])?];
        // Labelling k gives answer_a the label names[k] and answer_b the other.
        let mut a = [0.0; 2];
        let mut b = [0.0; 2];
        for k in 0..2 {
            let (la, lb) = (k, 1 - k);
            let prompt = SegmentedPrompt::new([
                format!("Answer {}: {answer_a}", names[la]),
                format!("Answer {}: {answer_b}", names[lb]),
            ])
            .system(opts.system.clone())
            .text(format!("Question: {question}"))
            .question(format!(
                "Which answer is better? Reply with {} or {} only.",
                names[0], names[1]
            ));
            let layout = self.layout(&prompt)?;
            let logits = self.evaluate(&layout, opts.mode)?;
            let lp = logprobs_of(logits, &ids);
            a[k] = lp[la];
            b[k] = lp[lb];
        }
        let (logprob_a, logprob_b) = ((a[0] + a[1]) / 2.0, (b[0] + b[1]) / 2.0);
        let preferred = match logprob_a.total_cmp(&logprob_b) {
            std::cmp::Ordering::Greater => Preference::A,
            std::cmp::Ordering::Less => Preference::B,
            std::cmp::Ordering::Equal => Preference::Tie,
        };
        Ok(Verdict {
            preferred,
            logprob_a,
            logprob_b,
        })
    }

    /// The one token a label is written as.
    fn label_token(&self, label: &str) -> Result<u32> {
        match self.tokenizer.encode(label, false, false)?[..] {
            [id] => Ok(id),
            ref ids => Err(Error::Request(format!(
                "the judge's label {label:?} is {} tokens in this vocabulary, not one",
                ids.len()
            ))),
        }
    }
}
