//! Chrome `.cpuprofile` in and out, and Firefox Profiler output, end to
//! end through the stackconv command.

mod common;

use common::{perf_symbol_args, stackconv, testdata};
use std::collections::BTreeMap;
use std::io::Read;

/// The hermetic symbol options of the perf recordings, quiet.
fn perf_args(kallsyms: &str) -> Vec<std::ffi::OsString> {
    let mut args = perf_symbol_args(kallsyms);
    args.push("--quiet".into());
    args
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn folded_total(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(_, n)| n.parse::<u64>().unwrap())
        .sum()
}

#[test]
fn node_cpuprofile_folds_to_the_independent_reference() {
    let out = stackconv()
        .arg(testdata("node/app.cpuprofile"))
        .args(["-o", "-", "--to", "folded"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = String::from_utf8(out.stdout).unwrap();
    let expected = std::fs::read_to_string(testdata("node/expected.folded")).unwrap();
    assert_eq!(sorted_lines(&ours), sorted_lines(&expected));
}

#[test]
fn perf_data_to_cpuprofile_keeps_every_nanosecond_to_the_microsecond() {
    let dir = tempfile::tempdir().unwrap();
    let cpuprofile = dir.path().join("out.cpuprofile");
    stackconv()
        .arg(testdata("perf/c-fp.data"))
        .args(perf_args("c-fp.kallsyms"))
        .arg("-o")
        .arg(&cpuprofile)
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cpuprofile).unwrap()).unwrap();
    assert_eq!(json["nodes"][0]["callFrame"]["functionName"], "(root)");
    assert_eq!(json["samples"].as_array().unwrap().len(), 497);
    let span = json["endTime"].as_u64().unwrap() - json["startTime"].as_u64().unwrap();
    // 497 samples of 1001001 ns: 497497497 ns, to the microsecond.
    assert!((497_497..=497_498).contains(&span), "{span}");
    // Read back: the same folded stacks as straight from perf.data, in µs.
    let back = stackconv()
        .arg(&cpuprofile)
        .args(["-o", "-", "--to", "folded"])
        .output()
        .unwrap();
    let back = String::from_utf8(back.stdout).unwrap();
    let direct = stackconv()
        .arg(testdata("perf/c-fp.data"))
        .args(perf_args("c-fp.kallsyms"))
        .args(["-o", "-", "--to", "folded"])
        .output()
        .unwrap();
    let direct = String::from_utf8(direct.stdout).unwrap();
    let stacks = |t: &str| -> Vec<String> {
        sorted_lines(t)
            .into_iter()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect()
    };
    // The folded output of perf data has the comm as root frame; the
    // cpuprofile carries stacks only.
    let direct_stacks: Vec<String> = stacks(&direct)
        .into_iter()
        .map(|s| {
            s.split_once(';')
                .map_or(String::new(), |(_, r)| r.to_string())
        })
        .collect();
    assert_eq!(stacks(&back), direct_stacks);
    assert!(folded_total(&back).abs_diff(497_497_497) < 1000);
}

/// Per (comm, tid) sample counts of a `perf script` text.
fn perf_script_counts(text: &str) -> BTreeMap<(String, u64), u64> {
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with([' ', '\t']) {
            continue;
        }
        // `comm tid  time: period event:` (comm may hold spaces).
        let head = line.split_once(": ").unwrap().0;
        let mut words: Vec<&str> = head.split_whitespace().collect();
        words.pop(); // time
        let tid: u64 = words.pop().unwrap().parse().unwrap();
        *counts.entry((words.join(" "), tid)).or_insert(0) += 1;
    }
    counts
}

fn firefox(data: &str, kallsyms: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("profile.json.gz");
    stackconv()
        .arg(testdata(data))
        .args(perf_args(kallsyms))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let gz = std::fs::read(&out).unwrap();
    assert_eq!(&gz[..2], b"\x1f\x8b", "gzipped");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// Threads, sample counts per thread (against perf script's own text) and
/// total CPU time (against the folded golden) of our Firefox output.
#[test]
fn firefox_output_has_perf_scripts_threads_and_samples() {
    for (name, kallsyms) in [("c-fp", "c-fp.kallsyms"), ("py-fp", "py-fp.kallsyms")] {
        let json = firefox(&format!("perf/{name}.data"), kallsyms);
        let mut ours = BTreeMap::new();
        let mut cpu_us = 0.0;
        for t in json["threads"].as_array().unwrap() {
            let samples = &t["samples"];
            let n = samples["length"].as_u64().unwrap();
            assert_eq!(samples["stack"].as_array().unwrap().len() as u64, n);
            assert_eq!(samples["weightType"], "samples");
            cpu_us += samples["threadCPUDelta"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .sum::<f64>();
            // The format writes tids as strings or numbers.
            let tid = match &t["tid"] {
                serde_json::Value::String(s) => s.parse().unwrap(),
                v => v.as_u64().unwrap(),
            };
            let key = (t["name"].as_str().unwrap().to_string(), tid);
            *ours.entry(key).or_insert(0) += n;
            // Time order.
            let deltas = samples["timeDeltas"].as_array().unwrap();
            assert!(deltas.iter().all(|d| d.as_f64().unwrap() >= 0.0));
        }
        let script =
            std::fs::read_to_string(testdata(&format!("perf/{name}.perf-script"))).unwrap();
        assert_eq!(ours, perf_script_counts(&script), "{name}");
        let folded = std::fs::read_to_string(testdata(&format!("perf/{name}.folded"))).unwrap();
        let total_ns = folded_total(&folded) as f64;
        assert!(
            (cpu_us * 1000.0 - total_ns).abs() < 1000.0 * ours.len() as f64 + 1.0,
            "{name}: {cpu_us} µs vs {total_ns} ns"
        );
    }
}

#[test]
fn firefox_categories_follow_frame_kinds() {
    let json = firefox("perf/py-fp.data", "py-fp.kallsyms");
    let categories: Vec<&str> = json["meta"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["Other", "Native", "Kernel", "Python", "JIT"]);
    // Frames of every kind but JIT occur in the Python recording.
    let mut used = std::collections::BTreeSet::new();
    for t in json["threads"].as_array().unwrap() {
        for c in t["frameTable"]["category"].as_array().unwrap() {
            used.insert(categories[c.as_u64().unwrap() as usize]);
        }
    }
    for kind in ["Native", "Kernel", "Python"] {
        assert!(used.contains(kind), "{kind} frames in {used:?}");
    }
}

#[test]
fn firefox_to_stdout_is_plain_json() {
    let out = stackconv()
        .arg(testdata("node/app.cpuprofile"))
        .args(["-o", "-", "--to", "firefox"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &json["threads"][0];
    assert_eq!(t["samples"]["length"], 796);
    // The JS frames are JIT frames, flagged as JS.
    assert!(t["funcTable"]["isJS"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == true));
}
