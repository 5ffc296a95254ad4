//! `facegate bench gate` through the real binary, on a tiny count: it drives the gate to the
//! strike in every liveness mode and prints each figure as a JSON line (no timing is asserted).

use crate::common;

use std::process::Command;

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn bench_gate_prints_latency_start_and_memory_for_each_liveness_mode() {
    let faces = common::dev_faces_dir().expect("the dev photos");
    let photo = |name: &str| faces.join("deepface__c01").join(name).display().to_string();
    let enrol = format!("{},{}", photo("1.jpg"), photo("2.jpg"));
    let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--models")
        .arg(common::models_dir())
        .args(["bench", "gate", "--photo", &photo("5.jpg"), "--enrol", &enrol])
        .args(["--sessions", "2", "--backend", "tract", "--threads", "1", "--decisions", "30"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let (rows, memory): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l["what"] == "sessions");
    let modes: Vec<&str> = rows.iter().map(|r| r["liveness"].as_str().unwrap()).collect();
    assert_eq!(modes, ["off", "passive", "both"]);
    for row in rows {
        assert_eq!(row["sessions"], 2, "{row}");
        for figure in ["start_ms", "p50_ms", "p95_ms"] {
            assert!(row[figure].as_f64().is_some_and(|ms| ms > 0.0), "{figure}: {row}");
        }
        assert!(row["turns_p50"].as_u64().is_some_and(|t| t >= 2), "{row}");
        assert!(row["load_before"].as_str().is_some_and(|l| !l.is_empty()), "{row}");
    }
    let [memory] = memory.as_slice() else { panic!("one memory figure: {memory:?}") };
    assert_eq!(memory["what"], "memory");
    assert_eq!(
        (memory["decisions"].as_u64(), memory["face_decisions"].as_u64()),
        (Some(30), Some(1))
    );
    for figure in ["rss_idle_kib", "rss_tenth_kib", "rss_after_kib"] {
        assert!(memory[figure].as_u64().is_some_and(|kib| kib > 1000), "{figure}: {memory}");
    }
}
