//! `batch` (feature `macro`): a batch job as a data team writes one.
//! Phases, each timed: `gen` writes RECORDS JSON lines (about 250 bytes
//! each, one `String` per line, as if read from a file); `parse` parses each
//! line with serde_json into owned structs (`String`s, `Vec`s); `aggregate`
//! builds a `HashMap` per user and a `BTreeMap` per country with nested
//! maps; `sort` sorts the records and the users; `serialize` writes every
//! record back as a JSON line plus the aggregates as one document; `rayon`
//! runs a parallel fold over the records into per-thread `HashMap`s merged
//! at the end; `free` drops it all. ops = records; throughput = records per
//! second over all phases.
//!
//! Extra figures: `total_s` and `<phase>_s` for each phase.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{positive, Workload};
use crate::cli::Args;
use crate::measure::{extra, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "batch",
    usage: "[--records 200000] [--seed 42]",
    about: "serde_json parse of JSON lines into structs, HashMap/BTreeMap aggregate, sort, serialize, rayon pass",
    run,
    uses_allocator: true,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    sku: String,
    qty: u32,
    price: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Event {
    id: u64,
    user: String,
    country: String,
    kind: String,
    amount: f64,
    tags: Vec<String>,
    items: Vec<Item>,
}

#[derive(Debug, Default, Serialize)]
struct UserAgg {
    events: u64,
    total: f64,
    tags: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
struct CountryAgg {
    events: u64,
    total: f64,
    kinds: BTreeMap<String, u64>,
}

const COUNTRIES: [&str; 12] = ["de", "fr", "us", "jp", "br", "in", "ng", "gb", "es", "it", "kr", "ca"];
const KINDS: [&str; 5] = ["view", "cart", "order", "refund", "search"];
const TAGS: [&str; 8] = ["mobile", "web", "promo", "returning", "new", "gift", "express", "bulk"];

fn generate(records: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed, 0);
    (0..records)
        .map(|i| {
            let items = (0..rng.range(1, 4))
                .map(|_| Item {
                    sku: format!("sku-{:05}", rng.below(20_000)),
                    qty: rng.range(1, 9) as u32,
                    price: rng.range(99, 99_999) as f64 / 100.0,
                })
                .collect();
            let event = Event {
                id: i as u64,
                user: format!("user-{:06}", rng.below(records / 8 + 1)),
                country: COUNTRIES[rng.below(COUNTRIES.len())].to_string(),
                kind: KINDS[rng.below(KINDS.len())].to_string(),
                amount: rng.range(1, 1_000_000) as f64 / 100.0,
                tags: (0..rng.range(0, 3)).map(|_| TAGS[rng.below(TAGS.len())].to_string()).collect(),
                items,
            };
            serde_json::to_string(&event).expect("serialize event")
        })
        .collect()
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let records = positive("--records", args.take_or("records", 200_000)?)?;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;

    let start = Instant::now();
    let mut phase_start = start;
    let mut phase = |name: &'static str| {
        let now = Instant::now();
        extra(name, (now - phase_start).as_secs_f64());
        phase_start = now;
    };

    let lines = generate(records, seed);
    phase("gen_s");

    let mut events: Vec<Event> =
        lines.iter().map(|l| serde_json::from_str(l).map_err(|e| format!("parse: {e}"))).collect::<Result<_, _>>()?;
    drop(lines);
    phase("parse_s");

    let mut users: HashMap<String, UserAgg> = HashMap::new();
    let mut countries: BTreeMap<String, CountryAgg> = BTreeMap::new();
    for e in &events {
        let u = users.entry(e.user.clone()).or_default();
        u.events += 1;
        u.total += e.amount;
        for t in &e.tags {
            if !u.tags.contains(t) {
                u.tags.push(t.clone());
            }
        }
        let c = countries.entry(e.country.clone()).or_default();
        c.events += 1;
        c.total += e.amount;
        *c.kinds.entry(e.kind.clone()).or_default() += 1;
    }
    phase("aggregate_s");

    events.sort_by(|a, b| b.amount.total_cmp(&a.amount).then(a.id.cmp(&b.id)));
    let mut ranking: Vec<(&String, &UserAgg)> = users.iter().collect();
    ranking.sort_by(|a, b| b.1.total.total_cmp(&a.1.total).then(a.0.cmp(b.0)));
    phase("sort_s");

    let out_lines: Vec<String> = events.iter().map(|e| serde_json::to_string(e).expect("serialize event")).collect();
    let report = serde_json::to_string(&(&countries, &ranking[..ranking.len().min(1000)])).expect("serialize report");
    let out_bytes: usize = out_lines.iter().map(String::len).sum::<usize>() + report.len();
    drop(out_lines);
    drop(report);
    phase("serialize_s");

    let sku_qty: HashMap<String, u64> = events
        .par_iter()
        .fold(HashMap::new, |mut m: HashMap<String, u64>, e| {
            for it in &e.items {
                *m.entry(it.sku.clone()).or_default() += u64::from(it.qty);
            }
            m
        })
        .reduce(HashMap::new, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
            a
        });
    let units: u64 = sku_qty.values().sum();
    phase("rayon_s");

    let checksum = units as usize + out_bytes + users.len();
    drop(sku_qty);
    drop(ranking);
    drop(users);
    drop(countries);
    drop(events);
    phase("free_s");
    let secs = start.elapsed().as_secs_f64();
    extra("total_s", secs);
    if checksum == 0 {
        return Err("batch produced nothing".into());
    }
    Ok(Outcome { ops: records as u64, secs })
}
