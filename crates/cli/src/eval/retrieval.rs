//! `pine-eval retrieval`: the synthetic key-value retrieval of "Lost in the Middle" (Liu et
//! al., 2023). An item is a JSON object of random UUID pairs and one asked key; its pair is
//! placed at each tested position (the other pairs keep their order) and the greedy answer is
//! correct when it contains the key's value. Accuracy by gold position, per mode.

use pine::SegmentedPrompt;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;

use super::answer::Answerer;
use super::args::RetrievalArgs;
use super::cost::Cost;
use super::output::JsonOut;
use super::table::markdown;
use super::{plot, Mode};

const INSTRUCTION: &str =
    "Extract the value corresponding to the specified key in the JSON object below.\n\nJSON data:";

/// A version-4 UUID from `rng`.
fn uuid(rng: &mut StdRng) -> String {
    let x: u128 = rng.gen();
    let x = (x & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{x:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// An item: the pairs (the asked one last) and the asked key's index.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    /// The `(key, value)` pairs; the last is the asked one.
    pub pairs: Vec<(String, String)>,
}

impl Item {
    fn new(docs: usize, rng: &mut StdRng) -> Item {
        Item {
            pairs: (0..docs).map(|_| (uuid(rng), uuid(rng))).collect(),
        }
    }

    /// The asked pair.
    fn gold(&self) -> &(String, String) {
        self.pairs.last().expect("at least 2 pairs")
    }

    /// The prompt with the asked pair at `position`.
    fn prompt(&self, position: usize) -> SegmentedPrompt {
        let mut order: Vec<&(String, String)> = self.pairs[..self.pairs.len() - 1].iter().collect();
        order.insert(position, self.gold());
        SegmentedPrompt::new(order.iter().map(|(k, v)| format!("\"{k}\": \"{v}\",")))
            .text(INSTRUCTION)
            .question(format!("Key: \"{}\"\nCorresponding value:", self.gold().0))
    }
}

/// The gold positions tested: `count` spread evenly over `0..docs`, first and last included.
pub fn positions(docs: usize, count: usize) -> Vec<usize> {
    if count >= docs {
        return (0..docs).collect();
    }
    let mut p: Vec<usize> = (0..count)
        .map(|k| (k * (docs - 1) + (count - 1) / 2) / (count - 1))
        .collect();
    p.dedup();
    p
}

/// One position's answer.
#[derive(Clone, Debug, Serialize)]
struct Answer {
    position: usize,
    output: String,
    correct: bool,
    computed: bool,
}

/// One mode over the items of one document count: the answers and the cost.
fn run_mode(
    answerer: &mut Answerer,
    items: &[Item],
    positions: &[usize],
    mode: Mode,
    args: &RetrievalArgs,
) -> Result<(Vec<Vec<Answer>>, Cost), String> {
    let layouts = items
        .iter()
        .map(|item| {
            positions
                .iter()
                .map(|&p| answerer.layout(&item.prompt(p)))
                .collect::<pine::Result<Vec<_>>>()
        })
        .collect::<pine::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    let (outputs, cost) = answerer.answer_orders(
        "retrieval",
        &layouts,
        mode,
        &args.common,
        args.answer_tokens,
        "\n",
    )?;
    let answers = items
        .iter()
        .zip(outputs)
        .map(|(item, outputs)| {
            positions
                .iter()
                .zip(outputs)
                .map(|(&position, (output, computed))| Answer {
                    position,
                    correct: output.contains(&item.gold().1),
                    output,
                    computed,
                })
                .collect()
        })
        .collect();
    Ok((answers, cost))
}

/// Runs `pine-eval retrieval`.
pub fn run(args: &RetrievalArgs) -> Result<(), String> {
    let json = JsonOut::open(args.common.json.as_deref())?;
    let n_items = args.items.min(args.common.limit.unwrap_or(usize::MAX));
    let mut answerer = Answerer::load(&args.common, args.batch)?;
    let mut runs = Vec::new();
    for &docs in &args.docs {
        let positions = positions(docs, args.positions);
        let mut rng = StdRng::seed_from_u64(args.common.seed.wrapping_add(docs as u64));
        let items: Vec<Item> = (0..n_items).map(|_| Item::new(docs, &mut rng)).collect();
        let mut rows = Vec::new();
        let mut series = Vec::new();
        let mut modes_json = Vec::new();
        for mode in super::modes(&args.common) {
            let (answers, cost) = run_mode(&mut answerer, &items, &positions, mode, args)?;
            let accuracy: Vec<f64> = (0..positions.len())
                .map(|k| {
                    answers.iter().filter(|a| a[k].correct).count() as f64 / items.len() as f64
                })
                .collect();
            let mut row = vec![mode.name.to_string()];
            row.extend(accuracy.iter().map(|a| format!("{a:.3}")));
            row.push(format!(
                "{:.3}",
                accuracy.iter().sum::<f64>() / accuracy.len() as f64
            ));
            row.push(format!("{:.2}", cost.items_per_s));
            rows.push(row);
            series.push((
                mode.name,
                positions
                    .iter()
                    .zip(&accuracy)
                    .map(|(&p, &a)| ((p + 1) as f64, a))
                    .collect::<Vec<_>>(),
            ));
            modes_json.push(json!({
                "mode": mode.name,
                "run_once": !mode.runs_every_order(args.common.all_orders),
                "accuracy_by_position": accuracy,
                "cost": cost,
                "items": items.iter().zip(&answers).map(|(it, a)| json!({
                    "key": it.gold().0,
                    "value": it.gold().1,
                    "answers": a,
                })).collect::<Vec<_>>(),
            }));
        }
        let mut header = vec!["mode".to_string()];
        header.extend(positions.iter().map(|p| format!("pos {}", p + 1)));
        header.extend(["mean".into(), "items/s".into()]);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        println!(
            "{docs} key-value pairs, {} items, accuracy by gold position:\n",
            items.len()
        );
        println!("{}", markdown(&header, &rows));
        if let Some(dir) = &args.common.plot {
            plot::lines(
                &plot::path_in(dir, &format!("retrieval-{docs}.svg"))?,
                &format!("key-value retrieval, {docs} pairs, {} items", items.len()),
                "position of the asked pair",
                "accuracy",
                &series,
            )?;
        }
        runs.push(json!({
            "docs": docs,
            "positions": positions,
            "modes": modes_json,
        }));
    }
    json.write(&json!({
        "task": "retrieval",
        "model": answerer.path.display().to_string(),
        "backend": answerer.backend,
        "items": n_items,
        "seed": args.common.seed,
        "prefix_cache": !args.common.no_prefix_cache,
        "runs": runs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_spread_from_first_to_last() {
        assert_eq!(positions(10, 5), [0, 2, 5, 7, 9]);
        assert_eq!(positions(20, 5), [0, 5, 10, 14, 19]);
        assert_eq!(positions(3, 5), [0, 1, 2]);
        assert_eq!(positions(10, 2), [0, 9]);
    }

    #[test]
    fn uuids_are_version_4() {
        let mut rng = StdRng::seed_from_u64(1);
        let u = uuid(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]), "{u}");
    }
}
