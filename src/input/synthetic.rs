//! The built-in corpus: English sentences generated from a seed, with planted analogy relations.
//!
//! Each planted word is an (entity, attribute) pair: `queen` = (royalty, female), `paris` =
//! (france, capital), `dogs` = (dog, plural), `walked` = (walk, past). A sentence about a planted word
//! holds the word, two of its entity's three topic words, two of its attribute's four marker words
//! and 2–5 filler words drawn from a Zipf distribution (exponent 1) over common English words, in
//! random order.
//! A word's vector then learns entity + attribute, so `queen − king + man ≈ woman` is the offset
//! between attributes that word2vec's analogy test looks for. The questions (every ordered pair of
//! pairs in a family) come with the text, in word2vec's questions-words sections.
//!
//! Sentence `s` is drawn from the Philox stream `(seed, PURPOSE_SYNTHETIC, s)` with rand's uniform
//! choices and shuffle and rand_distr's `Zipf`, so a sentence depends on the seed and its index only.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::RngExt;
use rand_distr::{Distribution, Zipf};

use crate::query::eval::AnalogySection;
use crate::train::rng::{Philox, PURPOSE_SYNTHETIC};

/// A relation family: two attributes (with marker words) and the planted pairs with their topic words.
struct Family {
    section: &'static str,
    markers: [[&'static str; 4]; 2],
    pairs: &'static [(&'static str, &'static str, [&'static str; 3])],
}

const FAMILIES: [Family; 4] = [
    Family {
        section: "family",
        markers: [["he", "him", "his", "sir"], ["she", "her", "hers", "madam"]],
        pairs: &[
            ("king", "queen", ["throne", "crown", "kingdom"]),
            ("prince", "princess", ["castle", "royal", "heir"]),
            ("man", "woman", ["adult", "person", "worker"]),
            ("boy", "girl", ["school", "playground", "toy"]),
            ("father", "mother", ["parent", "family", "home"]),
            ("son", "daughter", ["child", "born", "baby"]),
            ("brother", "sister", ["sibling", "twin", "older"]),
            ("husband", "wife", ["marriage", "wedding", "spouse"]),
            ("uncle", "aunt", ["relative", "cousin", "visit"]),
            ("actor", "actress", ["film", "stage", "theatre"]),
            ("waiter", "waitress", ["restaurant", "menu", "tip"]),
            ("emperor", "empress", ["empire", "dynasty", "palace"]),
        ],
    },
    Family {
        section: "capital-common-countries",
        markers: [
            ["nation", "border", "flag", "government"],
            ["city", "downtown", "mayor", "streets"],
        ],
        pairs: &[
            ("france", "paris", ["french", "wine", "cheese"]),
            ("germany", "berlin", ["german", "beer", "autobahn"]),
            ("italy", "rome", ["italian", "pasta", "pizza"]),
            ("spain", "madrid", ["spanish", "paella", "flamenco"]),
            ("japan", "tokyo", ["japanese", "sushi", "anime"]),
            ("china", "beijing", ["chinese", "dragon", "tea"]),
            ("russia", "moscow", ["russian", "vodka", "winter"]),
            ("egypt", "cairo", ["egyptian", "pyramid", "nile"]),
            ("greece", "athens", ["greek", "olive", "myth"]),
            ("canada", "ottawa", ["canadian", "maple", "hockey"]),
            ("india", "delhi", ["indian", "curry", "cricket"]),
            ("kenya", "nairobi", ["kenyan", "safari", "savanna"]),
        ],
    },
    Family {
        section: "gram8-plural",
        markers: [
            ["one", "single", "lone", "solitary"],
            ["many", "several", "numerous", "various"],
        ],
        pairs: &[
            ("car", "cars", ["engine", "wheel", "drive"]),
            ("dog", "dogs", ["bark", "leash", "puppy"]),
            ("cat", "cats", ["meow", "whisker", "kitten"]),
            ("house", "houses", ["roof", "door", "garden"]),
            ("tree", "trees", ["leaf", "branch", "forest"]),
            ("book", "books", ["page", "novel", "library"]),
            ("bird", "birds", ["feather", "nest", "wing"]),
            ("apple", "apples", ["fruit", "orchard", "juice"]),
            ("boat", "boats", ["sail", "harbor", "lake"]),
            ("horse", "horses", ["saddle", "stable", "gallop"]),
            ("flower", "flowers", ["petal", "bloom", "vase"]),
            ("bottle", "bottles", ["cork", "glass", "pour"]),
        ],
    },
    Family {
        section: "gram7-past-tense",
        markers: [
            ["today", "now", "always", "usually"],
            ["yesterday", "ago", "earlier", "previously"],
        ],
        pairs: &[
            ("walk", "walked", ["path", "stroll", "feet"]),
            ("play", "played", ["game", "fun", "match"]),
            ("jump", "jumped", ["fence", "high", "leap"]),
            ("talk", "talked", ["chat", "voice", "conversation"]),
            ("cook", "cooked", ["kitchen", "recipe", "oven"]),
            ("paint", "painted", ["brush", "canvas", "colour"]),
            ("climb", "climbed", ["mountain", "rope", "summit"]),
            ("dance", "danced", ["music", "rhythm", "party"]),
            ("work", "worked", ["office", "job", "salary"]),
            ("listen", "listened", ["ear", "sound", "radio"]),
            ("open", "opened", ["lid", "key", "unlock"]),
            ("clean", "cleaned", ["soap", "mop", "dust"]),
        ],
    },
];

/// Common English words, most frequent first; the filler is Zipf-distributed over them.
const FILLER: &str = "the of and to in a is that for it as was with be by on not this are from at or \
have an they which you had were but all we can there been if more when will would who so no out up \
into do time only could new some what other than them its then also about over just like people very \
first even through where before much good most know way well should here because year down any after \
life make how little long still back made great own might world take must right same last never under \
while last place find between again part number small another large around both each went old point \
give against next few however thing group hand without often seem help end kind form show began \
country come turn state name line keep let near fact less water word side given house often high light \
area real side sure quite begin across rather problem whole among enough week early run idea start \
order second public young story land able feel best half become across almost team course leave body \
study full certain";

/// Sentences per planted word in the default built-in corpus.
pub const DEFAULT_SENTENCES_PER_WORD: usize = 400;

/// Words whose nearest neighbours the built-in run prints.
pub const PROBES: [&str; 4] = ["king", "paris", "dogs", "walked"];

/// The generated corpus and its analogy questions.
pub struct Synthetic {
    /// One sentence per line, words separated by spaces.
    pub text: String,
    pub sections: Vec<AnalogySection>,
}

/// Every word with a role (planted, topic, marker), for keeping the filler apart from them.
fn special_words() -> Vec<&'static str> {
    let mut v = Vec::new();
    for f in &FAMILIES {
        v.extend(f.markers.iter().flatten());
        for (x, y, topics) in f.pairs {
            v.extend([x, y]);
            v.extend(topics);
        }
    }
    v
}

/// Filler vocabulary: [`FILLER`] without repeats and without any word that has a role.
fn filler_words() -> Vec<&'static str> {
    let special = special_words();
    let mut out: Vec<&str> = Vec::new();
    for w in FILLER.split_whitespace() {
        if !special.contains(&w) && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// The built-in corpus for `seed`, with `sentences_per_word` sentences per planted word on average.
pub fn generate(seed: u64, sentences_per_word: usize) -> Synthetic {
    let planted: Vec<(&Family, usize, usize)> = FAMILIES
        .iter()
        .flat_map(|f| (0..f.pairs.len()).flat_map(move |p| [(f, p, 0), (f, p, 1)]))
        .collect();
    let filler = filler_words();
    // P(rank k) ∝ 1/k over ranks 1..=n, the classic shape of word frequencies.
    let zipf = Zipf::new(filler.len() as f64, 1.0).expect("a non-empty filler list");
    let n_sentences = planted.len() * sentences_per_word;
    let mut text = String::with_capacity(n_sentences * 64);
    let mut sentence: Vec<&str> = Vec::with_capacity(16);
    for s in 0..n_sentences {
        let mut rng = Philox::new(seed, PURPOSE_SYNTHETIC, s as u64);
        let &(family, pair, side) = planted.choose(&mut rng).expect("planted words exist");
        let (x, y, topics) = &family.pairs[pair];
        sentence.clear();
        sentence.push(if side == 0 { x } else { y });
        let two_topics: [&str; 2] = topics.sample_array(&mut rng).expect("three topic words");
        let two_markers: [&str; 2] = family.markers[side]
            .sample_array(&mut rng)
            .expect("four marker words");
        sentence.extend(two_topics.into_iter().chain(two_markers));
        for _ in 0..rng.random_range(2..=5) {
            // Zipf's ranks are 1-based whole numbers in [1, n], held in an f64.
            sentence.push(filler[zipf.sample(&mut rng) as usize - 1]);
        }
        sentence.shuffle(&mut rng);
        text.push_str(&sentence.join(" "));
        text.push('\n');
    }
    Synthetic {
        text,
        sections: questions(),
    }
}

/// Every ordered pair of distinct pairs of each family: `[x_i, y_i, x_j, y_j]`.
fn questions() -> Vec<AnalogySection> {
    FAMILIES
        .iter()
        .map(|f| AnalogySection {
            name: f.section.to_string(),
            questions: f
                .pairs
                .iter()
                .flat_map(|a| {
                    f.pairs
                        .iter()
                        .filter(move |b| b.0 != a.0)
                        .map(move |b| [a.0, a.1, b.0, b.1].map(String::from))
                })
                .collect(),
        })
        .collect()
}

/// The sections in word2vec's questions-words format (`: name` lines, then `a b c d` lines).
pub fn questions_text(sections: &[AnalogySection]) -> String {
    let mut out = String::new();
    for s in sections {
        out.push_str(&format!(": {}\n", s.name));
        for q in &s.questions {
            out.push_str(&q.join(" "));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_word_has_one_role() {
        let special = special_words();
        let mut seen = std::collections::HashSet::new();
        for w in &special {
            assert!(seen.insert(*w), "'{w}' has two roles");
        }
        assert!(filler_words().len() > 150);
    }

    #[test]
    fn same_seed_same_corpus_and_planted_words_are_frequent() {
        let a = generate(7, 50);
        assert_eq!(a.text, generate(7, 50).text);
        assert_ne!(a.text, generate(8, 50).text);
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for w in a.text.split_whitespace() {
            *counts.entry(w).or_default() += 1;
        }
        assert_eq!(a.text.lines().count(), 96 * 50);
        for f in &FAMILIES {
            for (x, y, _) in f.pairs {
                for w in [x, y] {
                    let c = counts[w];
                    assert!((20..=90).contains(&c), "{w}: {c}");
                }
            }
        }
        // Zipf filler: the most frequent filler word far outnumbers a mid-rank one.
        assert!(counts["the"] > 20 * counts.get("study").copied().unwrap_or(1));
    }

    /// Pearson's χ² of the filler words' counts against P(rank k) ∝ k^−s.
    fn chi_square(counts: &HashMap<&str, u64>, filler: &[&str], s: f64) -> f64 {
        let weights: Vec<f64> = (1..=filler.len()).map(|k| (k as f64).powf(-s)).collect();
        let sum_w: f64 = weights.iter().sum();
        let observed: Vec<f64> = filler
            .iter()
            .map(|w| counts.get(w).copied().unwrap_or(0) as f64)
            .collect();
        let total: f64 = observed.iter().sum();
        observed
            .iter()
            .zip(&weights)
            .map(|(o, w)| {
                let e = total * w / sum_w;
                (o - e).powi(2) / e
            })
            .sum()
    }

    #[test]
    fn filler_words_follow_zipf_and_sentences_keep_their_length() {
        let syn = generate(5, 100);
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for w in syn.text.split_whitespace() {
            *counts.entry(w).or_default() += 1;
        }
        let filler = filler_words();
        // 9 600 sentences × 3.5 fillers: the rarest rank still expects ≈ 30 draws, enough for χ².
        // With the right law the statistic is χ² with k − 1 degrees of freedom (mean df, sd
        // √(2·df)); mean + 5 sd is exceeded with probability ≈ 1e-5 (Wilson–Hilferty).
        let df = (filler.len() - 1) as f64;
        let limit = df + 5.0 * (2.0 * df).sqrt();
        let fit = chi_square(&counts, &filler, 1.0);
        assert!(fit < limit, "χ² {fit:.0} against Zipf(1), limit {limit:.0}");
        // The check has power at this size: exponents 0.1 off, or uniform fillers, fail it.
        for s in [0.9, 1.1, 0.0] {
            let miss = chi_square(&counts, &filler, s);
            assert!(miss > 2.0 * limit, "χ² {miss:.0} against Zipf({s})");
        }
        // 1 + 2 + 2 role words and 2–5 fillers: 8.5 words a sentence (sd √1.25), which makes
        // `--sentences-per-word 21000` about 17M words.
        let lines = syn.text.lines().count() as f64;
        let per = syn.text.split_whitespace().count() as f64 / lines;
        assert!(
            (per - 8.5).abs() < 5.0 * (1.25 / lines).sqrt(),
            "{per} words a sentence"
        );
    }

    #[test]
    fn questions_cover_every_ordered_pair_and_round_trip_as_text() {
        let s = questions();
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|s| s.questions.len() == 12 * 11));
        assert_eq!(s[0].questions[0], ["king", "queen", "prince", "princess"]);
        let text = questions_text(&s);
        assert!(text.starts_with(": family\nking queen prince princess\n"));
        assert_eq!(text.lines().count(), 4 + 4 * 132);
    }
}
