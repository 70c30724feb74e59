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
    /// "A", "B", … (up to 26 answers).
    #[default]
    Letters,
    /// "1", "2", … (up to 9 answers: each label one token).
    Digits,
}

impl Labels {
    /// The labels of `n` answers, in label order; an error when there are fewer than 2 answers
    /// or more than the labels can name.
    pub fn names(self, n: usize) -> Result<Vec<String>> {
        let (first, most) = match self {
            Labels::Letters => (b'A', 26),
            Labels::Digits => (b'1', 9),
        };
        if !(2..=most).contains(&n) {
            return Err(Error::Request(format!(
                "the judge compares 2 to {most} answers with {self:?} labels, not {n}"
            )));
        }
        Ok((0..n as u8)
            .map(|i| char::from(first + i).to_string())
            .collect())
    }
}

/// How [`Model::judge`] asks.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct JudgeOptions {
    /// The system message.
    pub system: String,
    /// The instruction after the answers; `{labels}` becomes the labels ("A or B",
    /// "1, 2 or 3").
    pub instruction: String,
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
            instruction: "Which answer is better? Reply with {labels} only.".into(),
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

    /// Sets the instruction after the answers (`{labels}` becomes the labels).
    pub fn instruction(mut self, instruction: impl Into<String>) -> Self {
        self.instruction = instruction.into();
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
        let s = self.judge_scores(question, &[answer_a, answer_b], &[0, 1], opts)?;
        let (logprob_a, logprob_b) = (s[0], s[1]);
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

    /// The judge's score of each of `answers` (2 or more) shown in `order` (a permutation of
    /// their indices: `order[j]` is the answer shown `j`-th): the log-probability of the
    /// answer's label, averaged over the `n` labellings that give answer `i` the label
    /// `(i + k) mod n`, so no answer gains from its label. Under PINE (hash ties) the scores
    /// are the same for every order, bit for bit; under causal attention the labellings and
    /// orders of one question re-use its cached prefix ([`Model::evaluate_tokens`]).
    /// [`Model::judge`] is `judge_scores(q, &[a, b], &[0, 1], opts)`.
    pub fn judge_scores(
        &mut self,
        question: &str,
        answers: &[&str],
        order: &[usize],
        opts: &JudgeOptions,
    ) -> Result<Vec<f32>> {
        let n = answers.len();
        let names = opts.labels.names(n)?;
        let mut seen = vec![false; n];
        if order.len() != n
            || order
                .iter()
                .any(|&i| i >= n || std::mem::replace(&mut seen[i], true))
        {
            return Err(Error::Request(format!(
                "the judge's order {order:?} is not a permutation of {n} answers"
            )));
        }
        let ids = names
            .iter()
            .map(|l| self.label_token(l))
            .collect::<Result<Vec<_>>>()?;
        let listed = format!("{} or {}", names[..n - 1].join(", "), names[n - 1]);
        let instruction = opts.instruction.replace("{labels}", &listed);
        let mut scores = vec![0.0f32; n];
        for k in 0..n {
            let prompt = SegmentedPrompt::new(
                order
                    .iter()
                    .map(|&i| format!("Answer {}: {}", names[(i + k) % n], answers[i])),
            )
            .system(opts.system.clone())
            .text(format!("Question: {question}"))
            .question(instruction.clone());
            let layout = self.layout(&prompt)?;
            let logits = match opts.mode {
                AttentionMode::Causal => self.evaluate_tokens(&layout.tokens())?,
                mode => self.evaluate(&layout, mode)?,
            };
            let lp = logprobs_of(logits, &ids);
            for (i, s) in scores.iter_mut().enumerate() {
                *s += lp[(i + k) % n];
            }
        }
        Ok(scores.into_iter().map(|s| s / n as f32).collect())
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
