//! The recipes for sweeps at scale, read as their engines read them: the Kubernetes
//! Indexed Job and the CI matrix workflow with a YAML parser, the Dockerfile by its
//! instructions (no Docker daemon needed).

use std::path::Path;

use serde::Deserialize;
use serde_norway::Value;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every document of a multi-document YAML file.
fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML"))
        .collect()
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| {
        v.get(*key)
            .unwrap_or_else(|| panic!("no `{key}` in {path:?} of {v:?}"))
    })
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().expect("an integer"),
        Value::String(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("`{s}` is not a number")),
        other => panic!("not a number: {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .expect("a list")
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("not a string: {other:?}"),
        })
        .collect()
}

/// The value of `flag` in an argument list (`--flag value`).
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[test]
fn kubernetes_indexed_job_runs_one_shard_per_index() {
    let docs = documents(&read("deploy/k8s/sweep-indexed-job.yaml"));
    let job = docs
        .iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("Job"))
        .expect("a Job in the manifest");
    assert_eq!(get(job, &["apiVersion"]).as_str(), Some("batch/v1"));
    let spec = get(job, &["spec"]);
    assert_eq!(get(spec, &["completionMode"]).as_str(), Some("Indexed"));
    let completions = int(get(spec, &["completions"]));
    assert!(completions > 1, "a sweep over one pod is not sharded");
    let parallelism = int(get(spec, &["parallelism"]));
    assert!((1..=completions).contains(&parallelism));
    assert!(int(get(spec, &["backoffLimit"])) >= 0);
    // A shard whose sweep found violations exits 1: its index fails without a retry.
    let rules = get(spec, &["podFailurePolicy", "rules"])
        .as_sequence()
        .expect("rules");
    assert!(rules.iter().any(|r| {
        r.get("action").and_then(Value::as_str) == Some("FailIndex")
            && r.get("onExitCodes")
                .and_then(|c| c.get("values"))
                .is_some_and(|v| strings(v) == ["1"])
    }));

    let pod = get(spec, &["template", "spec"]);
    assert_eq!(get(pod, &["restartPolicy"]).as_str(), Some("Never"));
    assert_eq!(
        get(pod, &["securityContext", "runAsNonRoot"]).as_bool(),
        Some(true)
    );
    let containers = get(pod, &["containers"]).as_sequence().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let env = get(container, &["env"]).as_sequence().expect("env");
    let env_value = |name: &str| {
        env.iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no {name} in env"))
    };
    // Kubernetes passes the index, not the count: the manifest must, and agree.
    assert_eq!(
        int(get(env_value("POOLCHECK_SHARDS"), &["value"])),
        completions
    );
    assert_eq!(
        get(
            env_value("JOB_COMPLETION_INDEX"),
            &["valueFrom", "fieldRef", "fieldPath"]
        )
        .as_str(),
        Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );

    // The image's entrypoint is `poolcheck`; the args run one shard into the volume.
    assert!(
        container.get("command").is_none(),
        "the entrypoint runs poolcheck"
    );
    let args = strings(get(container, &["args"]));
    assert_eq!(args.first().map(String::as_str), Some("sim"));
    assert_eq!(flag(&args, "--shard"), Some("auto"));
    let out = flag(&args, "--json-out").expect("--json-out");
    assert_eq!(out, "/results/shard-$(JOB_COMPLETION_INDEX).json");
    assert!(args.iter().any(|a| a == "--no-progress"));
    let mounts = get(container, &["volumeMounts"])
        .as_sequence()
        .expect("mounts");
    let mount = mounts
        .iter()
        .find(|m| m.get("mountPath").and_then(Value::as_str) == Some("/results"))
        .expect("/results is mounted");
    let volume_name = get(mount, &["name"]).as_str().expect("a name");
    let volumes = get(pod, &["volumes"]).as_sequence().expect("volumes");
    let volume = volumes
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(volume_name))
        .expect("the mounted volume is declared");
    let claim = get(volume, &["persistentVolumeClaim", "claimName"]).as_str();
    // The claim is in the manifest, writable from many nodes at once.
    let pvc = docs
        .iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("PersistentVolumeClaim"))
        .expect("a claim for the results");
    assert_eq!(get(pvc, &["metadata", "name"]).as_str(), claim);
    assert_eq!(
        strings(get(pvc, &["spec", "accessModes"])),
        ["ReadWriteMany"]
    );
}

#[test]
fn kubernetes_merge_job_reads_the_sweeps_volume() {
    let sweep = documents(&read("deploy/k8s/sweep-indexed-job.yaml"));
    let claim_of = |job: &Value| {
        let pod = get(job, &["spec", "template", "spec"]);
        let volumes = get(pod, &["volumes"]).as_sequence().expect("volumes");
        volumes
            .iter()
            .filter_map(|v| v.get("persistentVolumeClaim"))
            .filter_map(|c| c.get("claimName").and_then(Value::as_str))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let sweep_job = sweep
        .iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("Job"))
        .expect("the sweep Job");
    let merge_docs = documents(&read("deploy/k8s/merge-job.yaml"));
    let [merge] = merge_docs.as_slice() else {
        panic!("one document in merge-job.yaml");
    };
    assert_eq!(get(merge, &["kind"]).as_str(), Some("Job"));
    assert_eq!(claim_of(merge), claim_of(sweep_job));
    let container = &get(merge, &["spec", "template", "spec", "containers"])
        .as_sequence()
        .expect("containers")[0];
    assert_eq!(strings(get(container, &["args"])), ["merge", "/results"]);
    let mount = &get(container, &["volumeMounts"])
        .as_sequence()
        .expect("mounts")[0];
    assert_eq!(get(mount, &["mountPath"]).as_str(), Some("/results"));
    assert_eq!(int(get(merge, &["spec", "backoffLimit"])), 0);
}

#[test]
fn ci_workflow_sweeps_a_matrix_and_merges() {
    let wf: Value = serde_norway::from_str(&read(".github/workflows/sweep.yml")).expect("YAML");
    let shards = int(get(&wf, &["env", "SHARDS"]));
    let jobs = get(&wf, &["jobs"]);

    let sweep = get(jobs, &["sweep"]);
    let matrix: Vec<i64> = get(sweep, &["strategy", "matrix", "shard"])
        .as_sequence()
        .expect("a matrix of shards")
        .iter()
        .map(int)
        .collect();
    assert_eq!(
        matrix,
        (0..shards).collect::<Vec<_>>(),
        "the matrix covers 0..SHARDS-1"
    );
    assert_eq!(
        get(sweep, &["strategy", "fail-fast"]).as_bool(),
        Some(false),
        "one shard's failure must not cancel the others"
    );
    assert_eq!(
        get(sweep, &["env", "POOLCHECK_SHARD_INDEX"]).as_str(),
        Some("${{ matrix.shard }}")
    );
    assert_eq!(int(get(sweep, &["env", "POOLCHECK_SHARD_COUNT"])), shards);
    let steps = get(sweep, &["steps"]).as_sequence().expect("steps");
    let run = steps
        .iter()
        .filter_map(|s| s.get("run").and_then(Value::as_str))
        .find(|r| r.contains("poolcheck sim"))
        .expect("a step runs poolcheck sim");
    assert!(run.contains("--shard auto"), "{run}");
    assert!(
        run.contains("--json-out \"results/shard-$POOLCHECK_SHARD_INDEX.json\""),
        "{run}"
    );
    let upload = steps
        .iter()
        .find(|s| {
            s.get("uses")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("each shard uploads its result");
    assert_eq!(
        get(upload, &["with", "name"]).as_str(),
        Some("shard-${{ matrix.shard }}")
    );
    assert_eq!(
        get(upload, &["with", "path"]).as_str(),
        Some("results/shard-${{ matrix.shard }}.json")
    );
    // Uploaded even when the sweep step failed.
    assert!(
        upload.get("if").is_some(),
        "the upload runs after a failed sweep"
    );

    let merge = get(jobs, &["merge"]);
    assert!(
        strings(get(merge, &["needs"])).contains(&"sweep".to_string()),
        "merge needs the matrix job"
    );
    assert!(
        merge.get("if").is_some(),
        "merge runs after failed shards too"
    );
    let steps = get(merge, &["steps"]).as_sequence().expect("steps");
    assert!(steps.iter().any(|s| {
        s.get("uses")
            .and_then(Value::as_str)
            .is_some_and(|u| u.starts_with("actions/download-artifact@"))
            && s.get("with")
                .and_then(|w| w.get("pattern"))
                .and_then(Value::as_str)
                == Some("shard-*")
    }));
    let merge_run = steps
        .iter()
        .filter_map(|s| s.get("run").and_then(Value::as_str))
        .find(|r| r.contains("poolcheck merge"))
        .expect("a step runs poolcheck merge");
    assert!(merge_run.contains("results/shard-*.json"), "{merge_run}");
    assert!(
        merge_run.contains("pipefail"),
        "the verdict's exit status survives tee"
    );
}

/// A Dockerfile instruction: keyword and the rest of its (continued) line.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (kw, rest) = l.trim().split_once(char::is_whitespace).unwrap_or((&l, ""));
            (kw.to_ascii_uppercase(), rest.trim().to_string())
        })
        .collect()
}

#[test]
fn dockerfile_has_a_cached_builder_and_a_non_root_runtime_with_the_binary_alone() {
    let text = read("Dockerfile");
    let all = instructions(&text);
    // Stages, by their FROM lines.
    let stages: Vec<(usize, &str)> = all
        .iter()
        .enumerate()
        .filter(|(_, (kw, _))| kw == "FROM")
        .map(|(i, (_, rest))| (i, rest.as_str()))
        .collect();
    assert_eq!(
        stages.len(),
        2,
        "a builder stage and a runtime stage: {stages:?}"
    );
    let (builder_at, builder) = stages[0];
    let (runtime_at, runtime) = stages[1];
    assert!(
        builder.starts_with("rust:") && builder.ends_with(" AS builder"),
        "{builder}"
    );
    assert!(
        runtime.contains("distroless/cc") || runtime.contains("-slim"),
        "a small runtime base: {runtime}"
    );
    let builder_steps = &all[builder_at..runtime_at];
    let build = builder_steps
        .iter()
        .find(|(kw, rest)| kw == "RUN" && rest.contains("cargo build"))
        .expect("the builder runs cargo build");
    assert!(
        build.1.contains("--release") && build.1.contains("--locked"),
        "{}",
        build.1
    );
    assert!(
        build
            .1
            .contains("--mount=type=cache,target=/usr/local/cargo/registry"),
        "dependencies are cached: {}",
        build.1
    );

    let runtime_steps = &all[runtime_at..];
    let copies: Vec<&String> = runtime_steps
        .iter()
        .filter(|(kw, _)| kw == "COPY" || kw == "ADD")
        .map(|(_, rest)| rest)
        .collect();
    assert_eq!(copies.len(), 1, "the runtime copies one thing: {copies:?}");
    assert_eq!(
        copies[0],
        "--from=builder /out/poolcheck /usr/local/bin/poolcheck"
    );
    assert!(
        !runtime_steps.iter().any(|(kw, _)| kw == "RUN"),
        "nothing is built or installed in the runtime stage"
    );
    let user = runtime_steps
        .iter()
        .rev()
        .find(|(kw, _)| kw == "USER")
        .map(|(_, rest)| rest.as_str())
        .expect("a USER in the runtime stage");
    let uid = user.split(':').next().unwrap_or(user);
    assert!(uid != "root" && uid != "0", "runs as non-root: {user}");
    let entrypoint = runtime_steps
        .iter()
        .find(|(kw, _)| kw == "ENTRYPOINT")
        .map(|(_, rest)| rest.as_str());
    assert_eq!(entrypoint, Some(r#"["poolcheck"]"#));

    let ignore = read(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["target/", "**/target/", "fuzz/", ".git/"] {
        assert!(patterns.contains(&needed), "{needed} in .dockerignore");
    }
    // The build reads Cargo.lock (--locked, and `drivers` embeds it): never ignored.
    assert!(!patterns.iter().any(|p| p.contains("Cargo")));
}
