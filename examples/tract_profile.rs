//! Where tract's time goes in YuNet and SFace, per operator. Each model is loaded as the gate's
//! tract backend loads it (value_info ignored, one fixed input shape, tract-only rewrites,
//! optimised), run `RUNS`
//! times on a constant input with every node timed through `SimpleState::run_plan_with_eval`,
//! and the operator kinds are listed by their median time per run, then the slowest nodes.
//!
//! ```text
//! cargo run --example tract_profile --features ort,window,camera,kms -- [THREADS] [RUNS] [WxH] [DIR] [--no-rewrites]
//! ```
//! (`WxH`: YuNet's input, 640x480 by default, the camera's frame; `DIR`: the model files,
//! `models/` by default; `--no-rewrites`: the plan tract makes of the files as they are, without
//! the gate's tract-only rewrites, for a before/after comparison.)

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tract_linalg::multithread::{Executor, set_default_executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::{SimpleState, eval};

fn main() -> TractResult<()> {
    let (plain, args): (Vec<_>, Vec<_>) =
        std::env::args().skip(1).partition(|a| a == "--no-rewrites");
    let rewrites = plain.is_empty();
    let mut args = args.into_iter();
    let threads: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let runs: usize = args.next().map_or(Ok(20), |a| a.parse())?;
    let (width, height) = match args.next() {
        Some(size) => {
            let (w, h) =
                size.split_once('x').ok_or_else(|| anyhow::anyhow!("WxH, e.g. 640x480"))?;
            (w.parse()?, h.parse()?)
        }
        None => (640, 480),
    };
    set_default_executor(match threads {
        1 => Executor::SingleThread,
        n => Executor::multithread(n),
    });
    let models = args.next().map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
        std::path::PathBuf::from,
    );
    println!("threads {threads}, {runs} runs, load {}", load_average());
    profile(&models.join("yunet_fp32.onnx"), [1, 3, height, width], runs, rewrites)?;
    profile(&models.join("sface_fp32.onnx"), [1, 3, 112, 112], runs, rewrites)?;
    Ok(())
}

/// One node's times over the runs.
struct Timed {
    op: String,
    label: String,
    times: Vec<Duration>,
}

fn profile(path: &Path, shape: [usize; 4], runs: usize, rewrites: bool) -> TractResult<()> {
    let model = if rewrites {
        facegate::vision::backend::optimised_tract_model(path, shape)?
    } else {
        let mut model = tract_onnx::onnx().with_ignore_value_info(true).model_for_path(path)?;
        model.set_input_fact(0, f32::fact(shape).into())?;
        model.into_optimized()?
    };
    let plan = model.into_runnable()?;
    let input: TValue = Tensor::from_shape(&shape, &vec![0.5f32; shape.iter().product()])?.into();
    let mut nodes: HashMap<usize, Timed> = HashMap::new();
    let mut totals = Vec::new();
    let mut state = SimpleState::new(&plan)?;
    for run in 0..=runs {
        let started = Instant::now();
        state.run_plan_with_eval(tvec!(input.clone()), |ctx, op_state, node, inputs| {
            let t = Instant::now();
            let out = eval(ctx, op_state, node, inputs);
            // The first run warms caches and is not counted.
            if run > 0 {
                let timed = nodes.entry(node.id).or_insert_with(|| Timed {
                    op: node.op().name().into_owned(),
                    label: format!(
                        "{} {}",
                        node.name,
                        node.op().info().unwrap_or_default().join(" ")
                    ),
                    times: Vec::new(),
                });
                timed.times.push(t.elapsed());
            }
            out
        })?;
        if run > 0 {
            totals.push(started.elapsed());
        }
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    println!("\n{name} {shape:?}: median run {:.1} ms", ms(median(&mut totals)));
    let mut by_op: HashMap<&str, (Duration, usize)> = HashMap::new();
    for timed in nodes.values() {
        let entry = by_op.entry(&timed.op).or_default();
        entry.0 += median(&mut timed.times.clone());
        entry.1 += 1;
    }
    let sum: Duration = by_op.values().map(|v| v.0).sum();
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by_key(|(_, (time, _))| std::cmp::Reverse(*time));
    println!("{:<28} {:>6} {:>9} {:>6}", "operator", "nodes", "ms", "share");
    for (op, (time, count)) in &ops {
        let share = 100.0 * time.as_secs_f64() / sum.as_secs_f64();
        println!("{op:<28} {count:>6} {:>9.2} {share:>5.1}%", ms(*time));
    }
    let mut slowest: Vec<_> = nodes.into_values().collect();
    slowest.sort_by_key(|t| std::cmp::Reverse(median(&mut t.times.clone())));
    println!("slowest nodes:");
    for timed in slowest.iter_mut().take(12) {
        println!("{:>8.2} ms  {:<24} {}", ms(median(&mut timed.times)), timed.op, timed.label);
    }
    Ok(())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned()
}
