//! [`Chat`]: a multi-turn conversation with the model's chat template. Each turn re-renders
//! the whole conversation and evaluates only the tokens after the part already in the KV
//! cache. When the conversation outgrows the context the oldest turns are dropped (a system
//! message is kept), as llama.cpp's context handling does; a message too long for the context
//! on its own is refused ([`Error::PromptTooLong`]) and the chat goes on without it.

use pine_tokenizer::ChatMessage;

use crate::error::{Error, Result};
use crate::generate::{Completion, Generation, Piece};
use crate::load::Model;
use crate::options::GenerateOptions;
use crate::prompt::chat_tokens;

/// A callback for notes on what a chat did to fit the context.
type NoteFn = Box<dyn FnMut(String) + Send>;

/// A conversation: a model and the messages so far.
///
/// ```no_run
/// # fn main() -> pine::Result<()> {
/// let model = pine::Model::load("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
/// let mut chat = pine::Chat::new(model)?.system("You are a terse assistant.");
/// let opts = pine::GenerateOptions::new().max_tokens(32).greedy();
/// let reply = chat.send_with("What is the capital of France?", &opts, |_| {})?;
/// println!("{}", reply.text);
/// let again = chat.send_with("And of Italy?", &opts, |_| {})?; // re-uses the cached turn
/// # Ok(())
/// # }
/// ```
pub struct Chat {
    model: Model,
    messages: Vec<ChatMessage>,
    notes: Option<NoteFn>,
}

impl Chat {
    /// A conversation with `model`, which must have a chat template.
    pub fn new(model: Model) -> Result<Chat> {
        if model.chat_template().is_none() {
            return Err(Error::NoChatTemplate);
        }
        Ok(Chat {
            model,
            messages: Vec::new(),
            notes: None,
        })
    }

    /// Sets the system message (replacing an earlier one).
    pub fn system(mut self, text: impl Into<String>) -> Self {
        self.messages.retain(|m| m.role != "system");
        self.messages.insert(0, ChatMessage::new("system", text));
        self
    }

    /// Receives notes on turns dropped to fit the context; without one they are dropped.
    pub fn on_note(mut self, f: impl FnMut(String) + Send + 'static) -> Self {
        self.notes = Some(Box::new(f));
        self
    }

    /// The messages so far (system, user and assistant turns).
    pub fn messages(&self) -> &[ChatMessage] {
        &self.messages
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Ends the chat and returns the model.
    pub fn into_model(self) -> Model {
        self.model
    }

    /// Forgets every turn but the system message.
    pub fn clear(&mut self) {
        self.messages.retain(|m| m.role == "system");
    }

    /// Adds the user's message and returns the generation of the reply, which becomes the
    /// assistant's turn when the generation is dropped (as far as it got). A message that
    /// cannot be evaluated ([`Error::PromptTooLong`], ...) is not kept.
    pub fn send(
        &mut self,
        message: impl Into<String>,
        opts: &GenerateOptions,
    ) -> Result<Generation<'_>> {
        self.messages.push(ChatMessage::new("user", message));
        let evaluated = self.fit().and_then(|ids| {
            let cached = self.model.prefill_reusing(&ids)?;
            Ok((ids.len(), cached))
        });
        match evaluated {
            Ok(tokens) => Ok(self
                .model
                .generation(tokens, opts, Some(&mut self.messages))),
            Err(e) => {
                // A message that could not be evaluated is not part of the conversation.
                self.messages.pop();
                Err(e)
            }
        }
    }

    /// The callback form of [`Chat::send`].
    pub fn send_with(
        &mut self,
        message: impl Into<String>,
        opts: &GenerateOptions,
        on_piece: impl FnMut(&Piece),
    ) -> Result<Completion> {
        self.send(message, opts)?.run(on_piece)
    }

    /// The conversation's tokens, made to fit the context: when it does not fit, the oldest
    /// turns are dropped until it fills at most half the context (room for the reply), with a
    /// note. When the newest message does not fit even alone it is refused.
    fn fit(&mut self) -> Result<Vec<u32>> {
        let template = self
            .model
            .chat_template()
            .expect("Chat::new checked the template");
        let tokens = |m: &[ChatMessage]| chat_tokens(self.model.tokenizer(), template, m);
        let n_ctx = self.model.n_ctx();
        let mut note = |m: String| {
            if let Some(f) = self.notes.as_mut() {
                f(m)
            }
        };
        let mut dropped = 0;
        let mut kept = self.messages.clone();
        loop {
            let ids = tokens(&kept)?;
            let room = if dropped == 0 { n_ctx } else { n_ctx / 2 + 1 };
            if ids.len() < room {
                if dropped > 0 {
                    note(format!(
                        "the conversation outgrew the context of {n_ctx} tokens; dropped the \
                         {dropped} oldest turn(s)"
                    ));
                }
                self.messages = kept;
                return Ok(ids);
            }
            if !drop_oldest_turn(&mut kept) {
                if ids.len() < n_ctx {
                    note(format!(
                        "the conversation outgrew the context of {n_ctx} tokens; dropped every \
                         earlier turn"
                    ));
                    self.messages = kept;
                    return Ok(ids);
                }
                return Err(Error::PromptTooLong {
                    tokens: ids.len(),
                    n_ctx,
                });
            }
            dropped += 1;
        }
    }
}

/// Removes the oldest user turn and the reply after it (a system message stays); false when
/// only the newest user turn is left.
fn drop_oldest_turn(messages: &mut Vec<ChatMessage>) -> bool {
    let Some(first) = messages.iter().position(|m| m.role != "system") else {
        return false;
    };
    if first + 1 >= messages.len() {
        return false;
    }
    messages.remove(first);
    if first + 1 < messages.len() && messages[first].role == "assistant" {
        messages.remove(first);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(m: &[ChatMessage]) -> Vec<&str> {
        m.iter().map(|m| m.role.as_str()).collect()
    }

    #[test]
    fn oldest_turns_go_first_and_the_system_message_stays() {
        let mut m: Vec<ChatMessage> = ["system", "user", "assistant", "user", "assistant", "user"]
            .iter()
            .map(|&r| ChatMessage::new(r, String::new()))
            .collect();
        assert!(drop_oldest_turn(&mut m));
        assert_eq!(roles(&m), ["system", "user", "assistant", "user"]);
        assert!(drop_oldest_turn(&mut m));
        assert_eq!(roles(&m), ["system", "user"]);
        assert!(!drop_oldest_turn(&mut m));
    }
}
