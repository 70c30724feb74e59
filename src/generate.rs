//! Generation: [`Model::generate`] evaluates a prompt and returns a [`Generation`], an iterator
//! of decoded [`Piece`]s (one per generated token) that samples, applies stop strings and
//! cancellation, and says why it ended ([`FinishReason`]); [`Model::generate_with`] is the
//! callback form.

use std::collections::VecDeque;

use pine_model::{AnyBackend, Sampler, Session};
use pine_tokenizer::{ChatMessage, StreamDecoder, Tokenizer};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::load::Model;
use crate::logprob::{token_logprob, TokenLogprob};
use crate::options::GenerateOptions;
use crate::prompt::Prompt;
use crate::stop::{StopMatcher, StopStep};

/// One generated token and the text it adds.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// The text this token adds to the output: whole UTF-8 characters only (a token that ends
    /// inside a character adds nothing; the next one adds the character), never any part of
    /// a stop string. The pieces' texts joined are the output.
    pub text: String,
    /// The token id.
    pub id: u32,
    /// Its log-probability and the likeliest alternatives, when asked for
    /// ([`GenerateOptions::logprobs`]).
    pub logprob: Option<TokenLogprob>,
}

/// Why a generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinishReason {
    /// The model produced an end-of-generation token (EOS, end of turn).
    EndOfGeneration,
    /// A stop string appeared (`index` into [`GenerateOptions::stop`]); the text ends before
    /// it.
    Stop {
        /// Which stop string.
        index: usize,
    },
    /// [`GenerateOptions::max_tokens`] tokens were generated.
    Length,
    /// The KV cache is full.
    ContextFull,
    /// The [`CancelToken`] was cancelled.
    Cancelled,
}

/// A finished generation, as [`Generation::run`] returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The generated text (without any stop string).
    pub text: String,
    /// The generated tokens (those inside a stop string are not included).
    pub tokens: Vec<u32>,
    /// Each token's log-probability, when asked for.
    pub logprobs: Vec<TokenLogprob>,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Tokens in the prompt (including any re-used from the cache).
    pub prompt_tokens: usize,
    /// Tokens of the prompt re-used from the cache (not evaluated again).
    pub cached_tokens: usize,
}

/// A generated piece whose text may still be part of a stop string.
struct Held {
    piece: Piece,
    /// Where its text starts in the generated text.
    start: usize,
}

/// A running generation: an iterator of [`Piece`]s, one per token, ending when the model ends
/// its turn, a stop string appears, the limit or the context is reached, or it is cancelled
/// ([`Generation::finish_reason`]). Nothing is evaluated before the first `next()` but the
/// prompt; each `next()` decodes at most one token, so a piece is available as soon as it is
/// sampled.
pub struct Generation<'m> {
    session: &'m mut Session<AnyBackend>,
    logits: &'m mut Vec<f32>,
    tokenizer: &'m Tokenizer,
    decoder: StreamDecoder<'m>,
    sampler: Sampler,
    stop: StopMatcher,
    max_tokens: usize,
    logprobs: Option<usize>,
    cancel: Option<CancelToken>,
    prompt_tokens: usize,
    cached_tokens: usize,
    generated: usize,
    /// The last sampled token, decoded at the start of the next step.
    to_decode: Option<u32>,
    /// Whether the last step selected on the backend (greedy or top-k), so `logits` are not
    /// its logits: they are read back when the generation is dropped, for a later
    /// [`Prompt::Continue`].
    logits_behind: bool,
    held: VecDeque<Held>,
    ready: VecDeque<Piece>,
    /// Bytes of text given to the stop matcher, and bytes it released.
    pushed: usize,
    released: usize,
    /// The text of every piece made ready.
    text: String,
    finish: Option<FinishReason>,
    failed: bool,
    /// A chat's messages: the reply is added as the assistant's turn when this ends.
    transcript: Option<&'m mut Vec<ChatMessage>>,
}

impl Model {
    /// Evaluates `prompt` (re-using the cache's common prefix for text and tokens) and returns
    /// the generation that follows it.
    ///
    /// ```no_run
    /// # fn main() -> pine::Result<()> {
    /// let mut model = pine::Model::load("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
    /// let opts = pine::GenerateOptions::new().max_tokens(8).greedy();
    /// for piece in model.generate("The capital of France is", &opts)? {
    ///     print!("{}", piece?.text);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn generate(
        &mut self,
        prompt: impl Into<Prompt>,
        opts: &GenerateOptions,
    ) -> Result<Generation<'_>> {
        let (prompt_tokens, cached) = self.start(prompt.into())?;
        Ok(self.generation((prompt_tokens, cached), opts, None))
    }

    /// The callback form of [`Model::generate`]: `on_piece` sees every piece as it is made;
    /// returns the whole completion.
    pub fn generate_with(
        &mut self,
        prompt: impl Into<Prompt>,
        opts: &GenerateOptions,
        on_piece: impl FnMut(&Piece),
    ) -> Result<Completion> {
        self.generate(prompt, opts)?.run(on_piece)
    }

    /// Evaluates the prompt; returns its length in tokens and how many of them were re-used
    /// from the cache.
    fn start(&mut self, prompt: Prompt) -> Result<(usize, usize)> {
        match prompt {
            Prompt::Text(text) => {
                let ids = self.tokenizer.encode(&text, true, true)?;
                if ids.is_empty() {
                    return Err(Error::Request("the prompt tokenizes to no tokens".into()));
                }
                Ok((ids.len(), self.prefill_reusing(&ids)?))
            }
            Prompt::Tokens(ids) => Ok((ids.len(), self.prefill_reusing(&ids)?)),
            Prompt::Layout(layout, mode) => {
                self.evaluate(&layout, mode)?;
                Ok((layout.len(), 0))
            }
            Prompt::Continue if self.logits.is_empty() => Err(Error::Request(
                "nothing has been evaluated to continue from".into(),
            )),
            Prompt::Continue => Ok((self.session.tokens().len(), self.session.tokens().len())),
        }
    }

    /// The generation after an evaluated prompt (its tokens, and those re-used from the
    /// cache); a chat passes its messages, which get the reply.
    pub(crate) fn generation<'m>(
        &'m mut self,
        (prompt_tokens, cached_tokens): (usize, usize),
        opts: &GenerateOptions,
        transcript: Option<&'m mut Vec<ChatMessage>>,
    ) -> Generation<'m> {
        let Model {
            session,
            logits,
            tokenizer,
            ..
        } = self;
        let tokenizer: &'m Tokenizer = tokenizer;
        Generation {
            session,
            logits,
            tokenizer,
            decoder: StreamDecoder::new(tokenizer),
            sampler: Sampler::new(opts.sampling.clone()),
            stop: StopMatcher::new(opts.stop.iter().cloned()),
            max_tokens: opts.max_tokens.unwrap_or(usize::MAX),
            logprobs: opts.logprobs,
            cancel: opts.cancel.clone(),
            prompt_tokens,
            cached_tokens,
            generated: 0,
            to_decode: None,
            logits_behind: false,
            held: VecDeque::new(),
            ready: VecDeque::new(),
            pushed: 0,
            released: 0,
            text: String::new(),
            finish: None,
            failed: false,
            transcript,
        }
    }
}

impl Generation<'_> {
    /// Why the generation ended; `None` while it runs (or after an error).
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish
    }

    /// Tokens in the prompt (including any re-used from the cache).
    pub fn prompt_tokens(&self) -> usize {
        self.prompt_tokens
    }

    /// Tokens of the prompt re-used from the cache (not evaluated again).
    pub fn cached_tokens(&self) -> usize {
        self.cached_tokens
    }

    /// The text of the pieces produced so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs to the end, calling `on_piece` with every piece; returns the completion.
    pub fn run(mut self, mut on_piece: impl FnMut(&Piece)) -> Result<Completion> {
        let mut tokens = Vec::new();
        let mut logprobs = Vec::new();
        for piece in self.by_ref() {
            let piece = piece?;
            on_piece(&piece);
            tokens.push(piece.id);
            logprobs.extend(piece.logprob);
        }
        Ok(Completion {
            text: self.text.clone(),
            tokens,
            logprobs,
            finish_reason: self.finish.expect("a generation that ran out has finished"),
            prompt_tokens: self.prompt_tokens,
            cached_tokens: self.cached_tokens,
        })
    }

    /// Samples (and before that decodes the previous token): one token per call.
    fn step(&mut self) -> Result<()> {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.end(FinishReason::Cancelled);
            return Ok(());
        }
        if self.generated >= self.max_tokens {
            self.end(FinishReason::Length);
            return Ok(());
        }
        // Without log-probabilities, greedy decoding needs only the argmax and top-k sampling
        // only the top k, which the backend selects where the logits are (a GPU reads back
        // one id or k pairs, not the vocabulary's logits).
        let plain = self.logprobs.is_none();
        let greedy = plain && self.sampler.is_greedy();
        let top_k = self.sampler.backend_top_k().filter(|_| plain);
        let mut picked = None;
        if let Some(id) = self.to_decode.take() {
            let decoded = match (greedy, top_k) {
                (true, _) => self
                    .session
                    .decode_greedy(id)
                    .map(|next| picked = Some(next)),
                (false, Some(k)) => self
                    .session
                    .decode_top_k(id, k)
                    .map(|top| picked = Some(self.sampler.sample_top(&top))),
                (false, None) => self.session.decode(id).map(|logits| *self.logits = logits),
            };
            self.logits_behind = decoded.is_ok() && picked.is_some();
            if let Err(e) = decoded {
                // The cache may hold part of the step: a later prompt starts afresh.
                self.session.reset();
                self.logits.clear();
                return Err(e.into());
            }
        }
        let id = match picked {
            Some(id) => id,
            None => self.sampler.sample(self.logits, self.session.tokens()),
        };
        let logprob = self.logprobs.map(|n| token_logprob(self.logits, id, n));
        if self.tokenizer.is_eog(id) {
            self.end(FinishReason::EndOfGeneration);
            return Ok(());
        }
        self.generated += 1;
        let text = self.decoder.push(id);
        self.held.push_back(Held {
            piece: Piece {
                text: String::new(),
                id,
                logprob,
            },
            start: self.pushed,
        });
        if self.feed(&text) {
            return Ok(());
        }
        if self.generated >= self.max_tokens {
            self.end(FinishReason::Length);
        } else if self.session.tokens().len() >= self.session.n_ctx() {
            self.end(FinishReason::ContextFull);
        } else {
            self.to_decode = Some(id);
        }
        Ok(())
    }

    /// Adds text to the newest held piece and passes it through the stop matcher; true when a
    /// stop string ended the generation.
    fn feed(&mut self, text: &str) -> bool {
        if let Some(h) = self.held.back_mut() {
            h.piece.text.push_str(text);
        }
        self.pushed += text.len();
        match self.stop.push(text) {
            StopStep::Text(t) => {
                self.released += t.len();
                self.release();
                false
            }
            StopStep::Stop { text, index } => {
                let cut = self.released + text.len();
                while let Some(h) = self.held.pop_front() {
                    if h.start < cut {
                        let mut piece = h.piece;
                        piece.text.truncate(cut - h.start);
                        self.make_ready(piece);
                    }
                }
                self.finish = Some(FinishReason::Stop { index });
                true
            }
        }
    }

    /// Makes ready the held pieces whose text is released (and whose bytes are whole
    /// characters).
    fn release(&mut self) {
        while let Some(h) = self.held.front() {
            let end = h.start + h.piece.text.len();
            let unfinished = self.held.len() == 1 && self.decoder.has_pending();
            if end > self.released || unfinished {
                break;
            }
            let h = self.held.pop_front().expect("a front element");
            self.make_ready(h.piece);
        }
    }

    fn make_ready(&mut self, piece: Piece) {
        self.text.push_str(&piece.text);
        self.ready.push_back(piece);
    }

    /// Ends the generation: bytes of an unfinished character come out (as U+FFFD) and held
    /// text is released, unless they complete a stop string.
    fn end(&mut self, reason: FinishReason) {
        let tail = self.decoder.finish();
        if !tail.is_empty() && self.feed(&tail) {
            return;
        }
        self.released += self.stop.finish().len();
        self.release();
        self.finish = Some(reason);
    }
}

impl Iterator for Generation<'_> {
    type Item = Result<Piece>;

    fn next(&mut self) -> Option<Result<Piece>> {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                return Some(Ok(piece));
            }
            if self.finish.is_some() || self.failed {
                return None;
            }
            if let Err(e) = self.step() {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}

impl Drop for Generation<'_> {
    /// A chat's reply (as far as it was generated) becomes the assistant's turn; after steps
    /// that selected on the backend, the model's logits become the last step's again (empty
    /// if they cannot be read: a later `Continue` then says nothing was evaluated).
    fn drop(&mut self) {
        if self.logits_behind {
            match self.session.picked_logits() {
                Ok(Some(logits)) => *self.logits = logits,
                _ => self.logits.clear(),
            }
        }
        if let Some(messages) = self.transcript.take() {
            messages.push(ChatMessage::new(
                "assistant",
                std::mem::take(&mut self.text),
            ));
        }
    }
}
