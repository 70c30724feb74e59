//! The model's chat template (`tokenizer.chat_template`), rendered with minijinja the way
//! Hugging Face's `apply_chat_template` renders it with Jinja2 (`trim_blocks`,
//! `lstrip_blocks`, `raise_exception`, Python string methods), so a conversation becomes the
//! exact prompt text the model was fine-tuned on.

use minijinja::{context, Environment, Error, ErrorKind};
use pine_gguf::Gguf;
use serde::Serialize;

use crate::error::meta;
use crate::vocab::opt_u32;
use crate::{clock, pycompat, TokenizerError};

/// Metadata key holding the template source.
const TEMPLATE_KEY: &str = "tokenizer.chat_template";
const TEMPLATE_NAME: &str = "chat_template";

/// Instructions one rendering may run: a real template spends tens per message, so this
/// allows conversations of hundreds of thousands of turns, and stops a template that loops
/// (with or without output) within about a second.
pub const TEMPLATE_FUEL: u64 = 20_000_000;

/// Bytes one rendering may write beyond four times the messages' own text: room for any real
/// template's markup, while a template that writes without end stops long before it can
/// exhaust memory.
pub const TEMPLATE_OUTPUT_SLACK: usize = 64 << 20;

/// One turn of a conversation, as templates see it (`message['role']`, `message.content`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, ...
    pub role: String,
    /// The turn's text.
    pub content: String,
}

impl ChatMessage {
    /// Convenience constructor.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A compiled chat template plus the BOS/EOS texts templates interpolate.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token`/`eos_token` are the texts exposed to the template.
    pub fn new(
        source: &str,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate, TokenizerError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_fuel(Some(TEMPLATE_FUEL));
        env.set_unknown_method_callback(pycompat::call_method);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |fmt: String| clock::strftime_now(&fmt));
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| TokenizerError::Template(describe(&e)))?;
        Ok(ChatTemplate {
            env,
            source: source.to_string(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    /// The file's chat template, or `None` when it has none (the caller then needs a
    /// built-in format or raw prompts).
    pub fn from_gguf(g: &Gguf) -> Result<Option<ChatTemplate>, TokenizerError> {
        if g.get(TEMPLATE_KEY).is_none() {
            return Ok(None);
        }
        let source = g.get_str(TEMPLATE_KEY).map_err(meta(TEMPLATE_KEY))?;
        let is_spm = g.get_str("tokenizer.ggml.model").ok() == Some("llama");
        let token_text = |key: &str, spm_default: u32| -> Result<String, TokenizerError> {
            let id = opt_u32(g, key)?.or(is_spm.then_some(spm_default));
            let Some(id) = id else {
                return Ok(String::new());
            };
            const TOKENS: &str = "tokenizer.ggml.tokens";
            let tokens = g.get_str_array(TOKENS).map_err(meta(TOKENS))?;
            Ok(tokens
                .get(id as usize)
                .copied()
                .unwrap_or_default()
                .to_string())
        };
        let bos = token_text("tokenizer.ggml.bos_token_id", 1)?;
        let eos = token_text("tokenizer.ggml.eos_token_id", 2)?;
        ChatTemplate::new(source, &bos, &eos).map(Some)
    }

    /// Renders the conversation; `add_generation_prompt` appends the opening of the
    /// assistant's turn so the model continues as the assistant.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TokenizerError> {
        let tmpl = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| TokenizerError::Template(describe(&e)))?;
        let text: usize = messages
            .iter()
            .map(|m| m.role.len() + m.content.len())
            .sum();
        let limit = text.saturating_mul(4).saturating_add(TEMPLATE_OUTPUT_SLACK);
        let mut out = Bounded {
            bytes: Vec::new(),
            limit,
        };
        let rendered = tmpl.render_captured_to(
            context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            },
            &mut out,
        );
        match rendered {
            Ok(_) => String::from_utf8(out.bytes).map_err(|_| {
                TokenizerError::Template(format!("{TEMPLATE_KEY} wrote invalid UTF-8"))
            }),
            Err(_) if out.bytes.len() >= limit => Err(TokenizerError::Template(format!(
                "{TEMPLATE_KEY} wrote more than {limit} bytes for {} messages of {text} bytes; \
                 stopped (a template that never ends?)",
                messages.len()
            ))),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(TokenizerError::Template(format!(
                "{TEMPLATE_KEY} ran more than {TEMPLATE_FUEL} instructions; stopped (a \
                 template that never ends?)"
            ))),
            Err(e) => Err(TokenizerError::Template(describe(&e))),
        }
    }

    /// The template source, for display and debugging.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish_non_exhaustive()
    }
}

/// A writer that refuses to grow past `limit` bytes, so a runaway template fails instead of
/// filling memory.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            let room = self.limit - self.bytes.len();
            self.bytes.extend_from_slice(&buf[..room]);
            return Err(std::io::Error::other("template output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// minijinja's Display omits the cause chain and line; include them.
fn describe(e: &Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_methods_and_raise_exception() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{% if m.role not in ['user', 'system'] %}\
             {{ raise_exception('bad role ' + m.role) }}{% endif %}\
             [{{ m['content'].strip().upper() }}]{% endfor %}\
             {% if add_generation_prompt %}{{ bos_token }}go{% endif %}",
            "<s>",
            "</s>",
        )
        .unwrap();
        let out = t
            .render(&[ChatMessage::new("user", "  hi there ")], true)
            .unwrap();
        assert_eq!(out, "[HI THERE]<s>go");
        let err = t
            .render(&[ChatMessage::new("tool", "x")], false)
            .unwrap_err();
        assert!(err.to_string().contains("bad role tool"), "{err}");
    }

    #[test]
    fn trims_blocks_like_hugging_face() {
        let t = ChatTemplate::new("{% if true %}\n  a\n{% endif %}\nb", "", "").unwrap();
        assert_eq!(t.render(&[], false).unwrap(), "  a\nb");
    }

    #[test]
    fn endless_templates_stop_with_an_error() {
        let silent = ChatTemplate::new(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "",
            "",
        )
        .unwrap();
        let t = std::time::Instant::now();
        let e = silent.render(&[], false).unwrap_err().to_string();
        assert!(
            e.contains("instructions") && e.contains(TEMPLATE_KEY),
            "{e}"
        );
        assert!(
            t.elapsed().as_secs() < 30,
            "fuel ran out only after {:?}",
            t.elapsed()
        );
        let loud = ChatTemplate::new(
            "{% for a in range(100000) %}{% for b in range(100000) %}\
             {{ 'x' * 1000000 }}{% endfor %}{% endfor %}",
            "",
            "",
        )
        .unwrap();
        let e = loud
            .render(&[ChatMessage::new("user", "hi")], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than") && e.contains("bytes"), "{e}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let e = ChatTemplate::new("{% if %}", "", "").unwrap_err();
        assert!(matches!(e, TokenizerError::Template(_)));
    }
}
#[cfg(test)]
mod deep_tests {
    use super::*;

    #[test]
    fn deeply_nested_templates_fail_or_render_without_overflowing() {
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(148), ")".repeat(148));
        let ifs = format!(
            "{}x{}",
            "{% if true %}".repeat(140),
            "{% endif %}".repeat(140)
        );
        let lists = format!("{{{{ {}1{} }}}}", "[".repeat(148), "]".repeat(148));
        let mac =
            "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(100000) }}"
                .to_string();
        let rec = "{% for m in messages recursive %}{{ loop([m, m]) }}{% endfor %}".to_string();
        for src in [parens, ifs, lists, mac, rec] {
            if let Ok(t) = ChatTemplate::new(&src, "", "") {
                let _ = t.render(&[ChatMessage::new("user", "x")], false);
            }
        }
    }
}
