//! A greedy answer to a segmented prompt in one mode: causal attention evaluates the layout's
//! tokens re-using the cache's common prefix (the orders of one item share their opening),
//! PINE and anchor evaluate the layout.

use pine::{AttentionMode, GenerateOptions, Layout, Model, Prompt};

use super::cost::Cost;

/// Generates greedily from `layout` under `mode` and returns the text; counts the prompt's
/// tokens and those re-used in `cost`. `fresh`: start from an empty cache.
pub fn greedy(
    model: &mut Model,
    layout: Layout,
    mode: AttentionMode,
    opts: &GenerateOptions,
    fresh: bool,
    cost: &mut Cost,
) -> pine::Result<String> {
    if fresh {
        model.reset();
    }
    let prompt = match mode {
        AttentionMode::Causal => Prompt::Tokens(layout.tokens()),
        mode => Prompt::Layout(layout, mode),
    };
    let done = model.generate_with(prompt, opts, |_| {})?;
    cost.prompt(done.prompt_tokens, done.cached_tokens);
    Ok(done.text)
}
