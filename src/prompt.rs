//! Prompts: what a generation starts from ([`Prompt`]), a conversation rendered with the chat
//! template into tokens ([`chat_tokens`]), and a segmented prompt split into a PINE/anchor
//! [`Layout`] (`prefix | segments | suffix`) around the segments, through the chat template
//! ([`chat_layout`]) or as raw text ([`raw_layout`]).

use pine_attention::{AttentionMode, Layout};
use pine_tokenizer::{ChatMessage, ChatTemplate, Tokenizer};

use crate::error::{Error, Result};
use crate::load::Model;

/// What a generation starts from.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Prompt {
    /// Raw text, tokenized with the model's BOS and special tokens parsed (no chat template).
    Text(String),
    /// Token ids as given.
    Tokens(Vec<u32>),
    /// A layout evaluated under an attention mode from an empty cache; generation then
    /// decodes under the same mode.
    Layout(Layout, AttentionMode),
    /// The cache as the last evaluation or generation left it (after [`crate::Model::evaluate`],
    /// say), from its last logits.
    Continue,
}

impl From<&str> for Prompt {
    fn from(text: &str) -> Prompt {
        Prompt::Text(text.to_string())
    }
}

impl From<String> for Prompt {
    fn from(text: String) -> Prompt {
        Prompt::Text(text)
    }
}

impl From<Vec<u32>> for Prompt {
    fn from(ids: Vec<u32>) -> Prompt {
        Prompt::Tokens(ids)
    }
}

impl From<&[u32]> for Prompt {
    fn from(ids: &[u32]) -> Prompt {
        Prompt::Tokens(ids.to_vec())
    }
}

/// A prompt with segments: `system` (chat only), the user's `text`, the `segments` (the parts
/// PINE reads in any order: documents, answers to compare) and the `question` after them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentedPrompt {
    /// The system message (chat template only).
    pub system: Option<String>,
    /// The text before the segments.
    pub text: String,
    /// The segments, in input order.
    pub segments: Vec<String>,
    /// The text after the segments.
    pub question: String,
}

impl SegmentedPrompt {
    /// A prompt with these segments and no text around them.
    pub fn new<S: Into<String>>(segments: impl IntoIterator<Item = S>) -> SegmentedPrompt {
        SegmentedPrompt {
            segments: segments.into_iter().map(Into::into).collect(),
            ..SegmentedPrompt::default()
        }
    }

    /// Sets the system message.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Sets the text before the segments.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// Sets the text after the segments.
    pub fn question(mut self, question: impl Into<String>) -> Self {
        self.question = question.into();
        self
    }
}

/// Renders a conversation with the chat template (ending with the assistant's turn opened)
/// into token ids.
pub fn chat_tokens(
    tokenizer: &Tokenizer,
    template: &ChatTemplate,
    messages: &[ChatMessage],
) -> Result<Vec<u32>> {
    let text = template.render(messages, true)?;
    Ok(tokenizer.encode(&text, true, true)?)
}

/// Tokenizes one part of a layout: the prefix gets the model's BOS (if it adds one); every part
/// parses special tokens, as chat templates need.
pub fn layout_part(tokenizer: &Tokenizer, text: &str, is_prefix: bool) -> Result<Vec<u32>> {
    Ok(tokenizer.encode(text, is_prefix, true)?)
}

/// Marks where a segment goes in the rendered chat template; never produced by real text.
fn sentinel(i: usize) -> String {
    format!("\u{1}PINE-SEGMENT-{i}\u{1}")
}

/// The layout of a segmented prompt in a chat: the template is rendered with the segments in
/// the user turn (after `text` and a blank line, each segment followed by a blank line, then
/// the question) and cut at them, so the prefix holds the template's opening and the suffix
/// its closing and the assistant's turn.
pub fn chat_layout(
    tokenizer: &Tokenizer,
    template: &ChatTemplate,
    prompt: &SegmentedPrompt,
) -> Result<Layout> {
    let mut messages = Vec::new();
    if let Some(s) = &prompt.system {
        messages.push(ChatMessage::new("system", s.clone()));
    }
    messages.push(ChatMessage::new("user", prompt.text.clone()));
    conversation_layout(
        tokenizer,
        template,
        messages,
        &prompt.segments,
        &prompt.question,
    )
}

/// The layout of a conversation whose last message (the user's) is followed by `segments`
/// and `question`, as [`chat_layout`] lays out a single turn: earlier turns (a multi-turn chat
/// through pine-serve) are part of the prefix.
pub fn conversation_layout(
    tokenizer: &Tokenizer,
    template: &ChatTemplate,
    mut messages: Vec<ChatMessage>,
    segments: &[String],
    question: &str,
) -> Result<Layout> {
    if segments.is_empty() {
        return Err(Error::Request("a segmented prompt needs segments".into()));
    }
    let last = messages
        .last_mut()
        .filter(|m| m.role == "user")
        .ok_or_else(|| {
            Error::Request(
                "segments go into the last user turn, but the last message is not the user's"
                    .into(),
            )
        })?;
    if !last.content.is_empty() {
        last.content.push_str("\n\n");
    }
    for i in 0..segments.len() {
        last.content.push_str(&sentinel(i));
    }
    last.content.push_str(question);
    let rendered = template.render(&messages, true)?;
    let dropped = || Error::Request("the chat template dropped the segments".into());
    let first = rendered.find(&sentinel(0)).ok_or_else(dropped)?;
    let last_marker = sentinel(segments.len() - 1);
    let last = rendered.find(&last_marker).ok_or_else(dropped)?;
    Ok(Layout {
        prefix: layout_part(tokenizer, &rendered[..first], true)?,
        segments: segments
            .iter()
            .map(|s| layout_part(tokenizer, &format!("{s}\n\n"), false))
            .collect::<Result<_>>()?,
        suffix: layout_part(tokenizer, &rendered[last + last_marker.len()..], false)?,
    })
}

/// The layout of a segmented prompt without a chat template: `text` (with BOS) is the prefix,
/// each segment as it is, `question` the suffix; the system message is not used.
pub fn raw_layout(tokenizer: &Tokenizer, prompt: &SegmentedPrompt) -> Result<Layout> {
    Ok(Layout {
        prefix: layout_part(tokenizer, &prompt.text, true)?,
        segments: prompt
            .segments
            .iter()
            .map(|s| layout_part(tokenizer, s, false))
            .collect::<Result<_>>()?,
        suffix: layout_part(tokenizer, &prompt.question, false)?,
    })
}

impl Model {
    /// The layout of a segmented prompt: through the chat template when the model has one
    /// ([`chat_layout`]), else as raw text ([`raw_layout`]).
    pub fn layout(&self, prompt: &SegmentedPrompt) -> Result<Layout> {
        match self.chat_template() {
            Some(t) => chat_layout(self.tokenizer(), t, prompt),
            None => raw_layout(self.tokenizer(), prompt),
        }
    }
}
