//! PINE and anchor attention on SmolLM2 Q4_1: exact permutation invariance and the spec's
//! invariants (pine-spec §6, anchor-spec §3).

mod common;

use pine::attention::{AnchorPositions, AttentionMode, Layout, TieRule};
use pine::backend::{CacheType, CpuBackend, MatmulMode};
use pine::model::{argmax, Logits, Session};
use pine::tokenizer::Tokenizer;

const PINE: AttentionMode = AttentionMode::Pine(TieRule::ContentHash);
const ANCHOR_RESET: AttentionMode = AttentionMode::Anchor(AnchorPositions::Reset);

const DOCS: [&str; 5] = [
    "\nThe Larkspur Bridge opened in 1931.",
    "\nTomatoes are fruits.",
    "\nThe library keeps old maps drawn by local sailors.",
    "\nMount Arden is 2,104 metres high.",
    "\nThe fair moved to autumn in 1987.",
];

struct Fixture {
    tok: Tokenizer,
    session: Session<CpuBackend>,
}

fn fixture(cache: CacheType) -> Fixture {
    let path = common::smollm2_path();
    let file = pine::gguf::Gguf::open(&path).unwrap();
    let tok = Tokenizer::from_gguf(&file).unwrap();
    let session = common::session(&path, 2, MatmulMode::Native, cache, 1024);
    Fixture { tok, session }
}

impl Fixture {
    fn enc(&self, s: &str) -> Vec<u32> {
        self.tok.encode(s, false, true).unwrap()
    }

    fn layout(&self, docs: &[&str]) -> Layout {
        Layout {
            prefix: self.enc("<|im_start|>user\nDocuments:"),
            segments: docs.iter().map(|d| self.enc(d)).collect(),
            suffix: self.enc("\nWhen did the bridge open?<|im_end|>\n<|im_start|>assistant\n"),
        }
    }

    /// Last-position logits and the greedy continuation of `n` tokens.
    fn run(&mut self, layout: &Layout, mode: AttentionMode, n: usize) -> (Vec<f32>, Vec<u32>) {
        let logits = self.session.evaluate(layout, mode, Logits::Last).unwrap();
        let mut out = Vec::new();
        let mut l = logits.clone();
        for _ in 0..n {
            let t = argmax(&l);
            out.push(t);
            l = self.session.decode(t).unwrap();
        }
        (logits, out)
    }
}

/// All permutations of 0..n (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k == 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, a, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            a.swap(j, k - 1);
        }
    }
    let mut out = Vec::new();
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

fn assert_invariant(cache: CacheType, mode: AttentionMode, n_docs: usize, n_gen: usize) {
    let mut f = fixture(cache);
    let docs = &DOCS[..n_docs];
    let mut reference: Option<(Vec<f32>, Vec<u32>)> = None;
    let perms = permutations(n_docs);
    for perm in &perms {
        let ordered: Vec<&str> = perm.iter().map(|&i| docs[i]).collect();
        let got = f.run(&f.layout(&ordered), mode, n_gen);
        match &reference {
            None => reference = Some(got),
            Some((logits, text)) => {
                let same_bits = logits
                    .iter()
                    .zip(&got.0)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same_bits,
                    "{mode:?} {cache:?} perm {perm:?}: logits differ by {:e}",
                    common::max_abs_diff(logits, &got.0)
                );
                assert_eq!(
                    text, &got.1,
                    "{mode:?} {cache:?} perm {perm:?}: greedy text differs"
                );
            }
        }
    }
    let (logits, text) = reference.unwrap();
    eprintln!(
        "{mode:?} {cache:?} n={n_docs}: {} permutations bit-identical, argmax {}, {:?}",
        perms.len(),
        argmax(&logits),
        f.tok.decode(&text, false)
    );
}

#[test]
fn pine_is_bit_identical_over_all_permutations_f16_cache() {
    for n in [2, 3, 5] {
        assert_invariant(CacheType::F16, PINE, n, 32);
    }
}

#[test]
fn pine_is_bit_identical_over_all_permutations_f32_cache() {
    for n in [2, 3, 5] {
        assert_invariant(CacheType::F32, PINE, n, 32);
    }
}

#[test]
fn anchor_reset_is_bit_identical_over_all_permutations() {
    for cache in [CacheType::F16, CacheType::F32] {
        for n in [2, 3, 5] {
            assert_invariant(cache, ANCHOR_RESET, n, 32);
        }
    }
}

#[test]
fn anchor_continuous_depends_on_order() {
    let mut f = fixture(CacheType::F32);
    let a = f
        .run(
            &f.layout(&DOCS[..3]),
            AttentionMode::Anchor(AnchorPositions::Continuous),
            0,
        )
        .0;
    let b = f
        .run(
            &f.layout(&[DOCS[2], DOCS[1], DOCS[0]]),
            AttentionMode::Anchor(AnchorPositions::Continuous),
            0,
        )
        .0;
    assert!(common::max_abs_diff(&a, &b) > 1e-3);
}

#[test]
fn one_segment_equals_causal_bit_for_bit() {
    for mode in [PINE, AttentionMode::Anchor(AnchorPositions::Continuous)] {
        let mut f = fixture(CacheType::F16);
        let layout = f.layout(&DOCS[..1]);
        let a = f.session.evaluate(&layout, mode, Logits::All).unwrap();
        let b = f
            .session
            .evaluate(&layout, AttentionMode::Causal, Logits::All)
            .unwrap();
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{mode:?}"
        );
    }
}

#[test]
fn prefix_logits_equal_causal_and_segments_never_see_the_suffix() {
    let mut f = fixture(CacheType::F32);
    let layout = f.layout(&DOCS[..3]);
    let nv = f.session.model.params.n_vocab;
    let (p, s) = (layout.prefix.len(), layout.segment_tokens());
    let pine = f.session.evaluate(&layout, PINE, Logits::All).unwrap();
    let causal = f
        .session
        .evaluate(&layout, AttentionMode::Causal, Logits::All)
        .unwrap();
    assert_eq!(
        &pine[..p * nv],
        &causal[..p * nv],
        "prefix rows differ from causal"
    );
    assert!(
        common::max_abs_diff(&pine[p * nv..], &causal[p * nv..]) > 1e-3,
        "PINE should differ from causal for n ≥ 2"
    );
    let mut longer = layout.clone();
    longer.suffix.extend(f.enc(" Please answer briefly."));
    let more = f.session.evaluate(&longer, PINE, Logits::All).unwrap();
    assert_eq!(
        &pine[..(p + s) * nv],
        &more[..(p + s) * nv],
        "segment rows changed when the suffix grew"
    );
}

#[test]
fn decode_step_k_equals_prefill_with_k_tokens_appended() {
    let mut f = fixture(CacheType::F32);
    let layout = f.layout(&DOCS[..3]);
    let (_, generated) = f.run(&layout, PINE, 4);
    for k in 1..=generated.len() {
        f.session.evaluate(&layout, PINE, Logits::Last).unwrap();
        let mut decoded = Vec::new();
        for &t in &generated[..k] {
            decoded = f.session.decode(t).unwrap();
        }
        let mut appended = layout.clone();
        appended.suffix.extend_from_slice(&generated[..k]);
        let prefilled = f.session.evaluate(&appended, PINE, Logits::Last).unwrap();
        let d = common::max_abs_diff(&decoded, &prefilled);
        assert!(d <= 1e-4, "step {k}: decode vs prefill max|Δ| {d}");
    }
}

/// A plan split into parts by the backend's budget (as many-segment layouts are, to bound
/// memory) gives the same bits as the whole plan: every logit of the segments, the suffix and
/// the decoded tokens, for PINE and for anchor attention.
#[test]
fn plans_split_by_the_budget_give_the_same_bits() {
    let mut f = fixture(CacheType::F16);
    let mut docs: Vec<&str> = DOCS.to_vec();
    docs.extend(DOCS.iter().map(|d| &d[..d.len() / 2]));
    let layout = f.layout(&docs);
    let run = |f: &mut Fixture, budget: Option<usize>| {
        if let Some(b) = budget {
            f.session.model.backend.set_plan_budget(b);
        }
        let mut all = Vec::new();
        for mode in [PINE, ANCHOR_RESET] {
            all.extend(f.session.evaluate(&layout, mode, Logits::All).unwrap());
            for t in [17, 42] {
                all.extend(f.session.decode(t).unwrap());
            }
        }
        all
    };
    let whole = run(&mut f, None);
    // 9 heads × (10 + 2) ranges per group: 250 ranges make parts of 2 groups; 1 makes one
    // group per part.
    for budget in [250, 1] {
        let split = run(&mut f, Some(budget));
        assert!(
            whole
                .iter()
                .zip(&split)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "budget {budget} changed the logits"
        );
    }
}

/// The plan of many short segments built on one thread and on the pool's two (groups ranked
/// by several host tasks, shared-order forms found by whichever attention task comes first)
/// gives the same bits: every logit of the prompt and of two decoded tokens.
#[test]
fn plans_built_on_one_or_two_threads_give_the_same_bits() {
    let path = common::smollm2_path();
    let f = fixture(CacheType::F16);
    let words = "Larkspur Bridge opened tomatoes fruits library maps sailors Mount Arden \
                 metres fair autumn river harbour lantern orchard granite meadow";
    let docs: Vec<String> = words.split_whitespace().map(|w| format!(" {w}")).collect();
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let layout = f.layout(&docs);
    let run = |threads: usize| {
        let mut s = common::session(&path, threads, MatmulMode::Native, CacheType::F16, 1024);
        let mut all = s.evaluate(&layout, PINE, Logits::All).unwrap();
        for t in [17, 42] {
            all.extend(s.decode(t).unwrap());
        }
        all
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.len(), two.len());
    assert!(
        one.iter()
            .zip(&two)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the thread count changed the logits"
    );
}
