//! `pine-eval rag`: a question over documents, answered greedily in several rotations of the
//! documents (causal) or once (order-invariant modes). Per mode: accuracy (the expected answer
//! in the output, case-insensitively), answer consistency (the same output in every rotation)
//! and correctness flips (right in some rotations, wrong in others).

use pine::SegmentedPrompt;
use serde::Serialize;
use serde_json::json;

use super::answer::Answerer;
use super::args::RagArgs;
use super::cost::Cost;
use super::data::{rag_items, RagItem};
use super::output::JsonOut;
use super::table::markdown;
use super::{orders, plot, Mode};

const SYSTEM: &str = "Answer the question from the documents. Answer briefly.";

/// One rotation's answer.
#[derive(Clone, Debug, Serialize)]
struct Answer {
    order: Vec<usize>,
    output: String,
    correct: bool,
    computed: bool,
}

/// A mode's metrics.
#[derive(Clone, Debug, Serialize)]
struct Summary {
    accuracy: f64,
    answer_consistency: f64,
    correctness_flips: f64,
}

fn summarize(answers: &[Vec<Answer>]) -> Summary {
    let n = answers.len().max(1) as f64;
    let all: Vec<bool> = answers.iter().flatten().map(|a| a.correct).collect();
    Summary {
        accuracy: all.iter().filter(|&&c| c).count() as f64 / all.len().max(1) as f64,
        answer_consistency: answers
            .iter()
            .filter(|a| a.iter().all(|x| x.output == a[0].output))
            .count() as f64
            / n,
        correctness_flips: answers
            .iter()
            .filter(|a| a.iter().any(|x| x.correct != a[0].correct))
            .count() as f64
            / n,
    }
}

fn run_mode(
    answerer: &mut Answerer,
    items: &[RagItem],
    mode: Mode,
    args: &RagArgs,
) -> Result<(Vec<Vec<Answer>>, Cost), String> {
    let orders: Vec<Vec<Vec<usize>>> = items
        .iter()
        .map(|item| orders::rotations(item.docs.len(), args.orders))
        .collect();
    let layouts = items
        .iter()
        .zip(&orders)
        .map(|(item, orders)| {
            orders
                .iter()
                .map(|order| {
                    let prompt = SegmentedPrompt::new(order.iter().map(|&i| item.docs[i].clone()))
                        .system(SYSTEM)
                        .text("Documents:")
                        .question(format!("Question: {}", item.question));
                    answerer
                        .layout(&prompt)
                        .map_err(|e| format!("{}: line {}: {e}", args.data.display(), item.line))
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (outputs, cost) =
        answerer.answer_orders("rag", &layouts, mode, &args.common, args.max_tokens, "\n\n")?;
    let answers = items
        .iter()
        .zip(orders.into_iter().zip(outputs))
        .map(|(item, (orders, outputs))| {
            orders
                .into_iter()
                .zip(outputs)
                .map(|(order, (output, computed))| Answer {
                    correct: output.to_lowercase().contains(&item.answer.to_lowercase()),
                    order,
                    output,
                    computed,
                })
                .collect()
        })
        .collect();
    Ok((answers, cost))
}

/// Runs `pine-eval rag`.
pub fn run(args: &RagArgs) -> Result<(), String> {
    let json = JsonOut::open(args.common.json.as_deref())?;
    let mut items = rag_items(&args.data).map_err(|e| e.to_string())?;
    items.truncate(args.common.limit.unwrap_or(usize::MAX));
    let mut answerer = Answerer::load(&args.common, args.batch)?;
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    let mut modes_json = Vec::new();
    for mode in super::modes(&args.common) {
        let (answers, cost) = run_mode(&mut answerer, &items, mode, args)?;
        let s = summarize(&answers);
        rows.push(vec![
            mode.name.to_string(),
            cost.items.to_string(),
            cost.evaluations.to_string(),
            format!("{:.3}", s.accuracy),
            format!("{:.3}", s.answer_consistency),
            format!("{:.3}", s.correctness_flips),
            format!("{:.2}", cost.items_per_s),
        ]);
        bars.push((
            mode.name,
            vec![s.accuracy, s.answer_consistency, 1.0 - s.correctness_flips],
        ));
        modes_json.push(json!({
            "mode": mode.name,
            "run_once": !mode.runs_every_order(args.common.all_orders),
            "summary": s,
            "cost": cost,
            "items": items.iter().zip(&answers).map(|(it, a)| json!({
                "line": it.line,
                "answer": it.answer,
                "answers": a,
            })).collect::<Vec<_>>(),
        }));
    }
    print!(
        "{}",
        markdown(
            &[
                "mode",
                "items",
                "evals",
                "accuracy",
                "answer consistency",
                "correctness flips",
                "items/s"
            ],
            &rows
        )
    );
    plot::task_bars(
        args.common.plot.as_deref(),
        "rag",
        &args.data,
        items.len(),
        &["accuracy", "answer consistency", "no correctness flip"],
        &bars,
    )?;
    json.write_task(
        "rag",
        &args.data,
        &answerer.path,
        &answerer.backend,
        json!({
        "orders": args.orders,
        "prefix_cache": !args.common.no_prefix_cache,
        "modes": modes_json,
        }),
    )
}
