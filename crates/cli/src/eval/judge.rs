//! `pine-eval judge`: each item's answers in several orders under causal attention, once under
//! an order-invariant mode; the verdict is the answer whose label is likeliest
//! ([`pine::Model::judge_scores`], averaged over the labellings so no answer gains from its
//! label). Per mode: accuracy (labelled items), swap consistency (the same verdict in every
//! order), first-position preference, and how far each answer's score moves across orders.

use pine::{JudgeOptions, Labels, Model};
use serde::Serialize;
use serde_json::json;

use super::args::{JudgeArgs, LabelsArg};
use super::cost::Cost;
use super::data::{judge_items, JudgeItem};
use super::output::JsonOut;
use super::table::{fraction, markdown};
use super::{orders, plot, progress, Mode};

/// One order's result.
#[derive(Clone, Debug, Serialize)]
pub struct OrderResult {
    /// `order[j]`: the answer shown `j`-th.
    pub order: Vec<usize>,
    /// Each answer's score (by the answer's index in the data).
    pub scores: Vec<f32>,
    /// The preferred answer's index (`None`: a tie).
    pub verdict: Option<usize>,
    /// Whether this order was evaluated (false: an order-invariant mode's one result).
    pub computed: bool,
}

/// One item's results in one mode.
#[derive(Clone, Debug, Serialize)]
pub struct ItemResult {
    /// The item's line in the data file.
    pub line: usize,
    /// The better answer, when labelled.
    pub label: Option<usize>,
    /// A result per order.
    pub orders: Vec<OrderResult>,
}

/// A mode's metrics.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Verdicts equal to the label, over labelled items' orders.
    pub accuracy: Option<f64>,
    /// Items with the same verdict in every order.
    pub swap_consistency: f64,
    /// Orders whose verdict is the answer shown first.
    pub first_position_preference: f64,
    /// Mean over items of the largest change of an answer's score across orders.
    pub mean_abs_delta_logprob: f64,
    /// The largest such change.
    pub max_abs_delta_logprob: f64,
}

/// The answer with the highest score; `None` when the highest is shared.
fn verdict(scores: &[f32]) -> Option<usize> {
    let best = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut at = scores.iter().enumerate().filter(|(_, &s)| s == best);
    match (at.next(), at.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// The metrics of a mode's item results.
pub fn summarize(items: &[ItemResult]) -> Summary {
    let all = || {
        items
            .iter()
            .flat_map(|it| it.orders.iter().map(move |o| (it, o)))
    };
    let labelled: Vec<bool> = all()
        .filter_map(|(it, o)| it.label.map(|l| o.verdict == Some(l)))
        .collect();
    let mean = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64;
    let consistent: Vec<bool> = items
        .iter()
        .map(|it| it.orders.iter().all(|o| o.verdict == it.orders[0].verdict))
        .collect();
    let first: Vec<bool> = all().map(|(_, o)| o.verdict == Some(o.order[0])).collect();
    let deltas: Vec<f64> = items
        .iter()
        .map(|it| {
            (0..it.orders[0].scores.len())
                .map(|i| {
                    let s = it.orders.iter().map(|o| o.scores[i]);
                    let (lo, hi) =
                        s.fold((f32::MAX, f32::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
                    f64::from(hi - lo)
                })
                .fold(0.0, f64::max)
        })
        .collect();
    Summary {
        accuracy: (!labelled.is_empty()).then(|| mean(&labelled)),
        swap_consistency: mean(&consistent),
        first_position_preference: mean(&first),
        mean_abs_delta_logprob: deltas.iter().sum::<f64>() / deltas.len().max(1) as f64,
        max_abs_delta_logprob: deltas.iter().copied().fold(0.0, f64::max),
    }
}

/// One mode's run over the items.
fn run_mode(
    model: &mut Model,
    items: &[JudgeItem],
    mode: Mode,
    args: &JudgeArgs,
    opts: &JudgeOptions,
) -> Result<(Vec<ItemResult>, Cost), String> {
    let opts = opts.clone().mode(mode.attention);
    let bar = progress::bar("judge", items.len());
    bar.set_message(mode.name);
    let mut cost = Cost::start();
    let mut results = Vec::new();
    for item in items {
        let answers: Vec<&str> = item.answers.iter().map(String::as_str).collect();
        let seed = args.common.seed ^ item.line as u64;
        let mut orders = Vec::new();
        for (k, order) in orders::permutations(answers.len(), args.orders, seed)
            .into_iter()
            .enumerate()
        {
            let scores = if k == 0 || mode.runs_every_order(args.common.all_orders) {
                if args.common.no_prefix_cache {
                    model.reset();
                }
                cost.evaluations += 1;
                model
                    .judge_scores(&item.question, &answers, &order, &opts)
                    .map_err(|e| format!("{}: line {}: {e}", args.data.display(), item.line))?
            } else {
                let first: &OrderResult = &orders[0];
                first.scores.clone()
            };
            orders.push(OrderResult {
                verdict: verdict(&scores),
                computed: k == 0 || mode.runs_every_order(args.common.all_orders),
                order,
                scores,
            });
        }
        results.push(ItemResult {
            line: item.line,
            label: item.label,
            orders,
        });
        cost.items += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((results, cost.finish()))
}

/// The judge's options from the flags; the labels for `n` answers (the most of any item).
fn options(args: &JudgeArgs, n: usize) -> JudgeOptions {
    let labels = match args.labels {
        LabelsArg::Letters => Labels::Letters,
        LabelsArg::Digits => Labels::Digits,
        LabelsArg::Auto if n <= 2 => Labels::Letters,
        LabelsArg::Auto => Labels::Digits,
    };
    let mut opts = JudgeOptions::new().labels(labels);
    if let Some(s) = &args.system {
        opts = opts.system(s.clone());
    }
    if let Some(i) = &args.instruction {
        opts = opts.instruction(i.clone());
    }
    opts
}

/// Runs `pine-eval judge`.
pub fn run(args: &JudgeArgs) -> Result<(), String> {
    let json = JsonOut::open(args.common.json.as_deref())?;
    let mut items = judge_items(&args.data).map_err(|e| e.to_string())?;
    items.truncate(args.common.limit.unwrap_or(usize::MAX));
    let n = items.iter().map(|i| i.answers.len()).max().unwrap_or(2);
    let opts = options(args, n);
    opts.labels.names(n).map_err(|e| format!("--labels: {e}"))?;
    let mut model = super::load(&args.common)?;
    let mut rows = Vec::new();
    let mut modes_json = Vec::new();
    let mut bars = Vec::new();
    for mode in super::modes(&args.common) {
        let (results, cost) = run_mode(&mut model, &items, mode, args, &opts)?;
        let s = summarize(&results);
        let once = !mode.runs_every_order(args.common.all_orders);
        rows.push(vec![
            mode.name.to_string(),
            cost.items.to_string(),
            cost.evaluations.to_string(),
            fraction(s.accuracy),
            format!("{:.3}{}", s.swap_consistency, if once { "*" } else { "" }),
            format!("{:.3}", s.first_position_preference),
            format!("{:.4}", s.mean_abs_delta_logprob),
            format!("{:.4}", s.max_abs_delta_logprob),
            format!("{:.2}", cost.items_per_s),
        ]);
        bars.push((
            mode.name,
            vec![
                s.accuracy.unwrap_or(0.0),
                s.swap_consistency,
                s.first_position_preference,
            ],
        ));
        modes_json.push(json!({
            "mode": mode.name,
            "run_once": once,
            "summary": s,
            "cost": cost,
            "items": results,
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
                "swap consistency",
                "first-position pref.",
                "mean |Δ log p|",
                "max |Δ log p|",
                "items/s"
            ],
            &rows
        )
    );
    if rows.iter().any(|r| r[4].ends_with('*')) {
        println!("\n* order-invariant mode, evaluated once per item (--all-orders evaluates every order)");
    }
    println!("an unbiased judge prefers the first position in 1/n of the orders (0.500 for pairs)");
    plot::task_bars(
        args.common.plot.as_deref(),
        "judge",
        &args.data,
        items.len(),
        &["accuracy", "swap consistency", "first-position preference"],
        &bars,
    )?;
    json.write_task(
        "judge",
        &args.data,
        model.path(),
        &model.backend_description(),
        json!({
        "labels": opts.labels.names(n).map_err(|e| e.to_string())?,
        "orders": args.orders,
        "seed": args.common.seed,
        "prefix_cache": !args.common.no_prefix_cache,
        "modes": modes_json,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(order: &[usize], scores: &[f32]) -> OrderResult {
        OrderResult {
            order: order.to_vec(),
            scores: scores.to_vec(),
            verdict: verdict(scores),
            computed: true,
        }
    }

    #[test]
    fn a_judge_that_follows_the_first_position_is_inconsistent() {
        let items = [
            ItemResult {
                line: 1,
                label: Some(0),
                orders: vec![order(&[0, 1], &[-1.0, -2.0]), order(&[1, 0], &[-1.5, -1.0])],
            },
            ItemResult {
                line: 2,
                label: Some(1),
                orders: vec![order(&[0, 1], &[-3.0, -1.0]), order(&[1, 0], &[-3.0, -1.0])],
            },
        ];
        let s = summarize(&items);
        assert_eq!(s.accuracy, Some(0.75));
        assert_eq!(s.swap_consistency, 0.5);
        assert_eq!(s.first_position_preference, 0.75);
        assert_eq!(s.max_abs_delta_logprob, 1.0);
        assert_eq!(s.mean_abs_delta_logprob, 0.5);
        assert_eq!(verdict(&[-1.0, -1.0]), None);
    }
}
