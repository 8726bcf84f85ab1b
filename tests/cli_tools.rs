//! The small tools of the `h2o` binary: `h2o completions bash|zsh|fish`
//! and `h2o --version`.

use std::process::{Command, Output};

fn h2o(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(args)
        .output()
        .expect("spawn h2o")
}

#[test]
fn completions_name_the_subcommands_and_bash_parses() {
    for shell in ["bash", "zsh", "fish"] {
        let out = h2o(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8 script");
        assert!(text.len() > 500, "{shell}: script too short: {text}");
        for sub in ["serve", "get", "bench", "ws", "hpack", "completions"] {
            assert!(text.contains(sub), "{shell}: no {sub:?} in the script");
        }
        if shell == "bash" {
            let path = std::env::temp_dir().join(format!("h2o-compl-{}.bash", std::process::id()));
            std::fs::write(&path, &text).unwrap();
            let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            let _ = std::fs::remove_file(&path);
            assert!(check.status.success(), "bash -n: {check:?}");
            // And it really registers a completion function for h2o.
            assert!(
                text.contains("complete -F"),
                "no `complete -F` in the bash script"
            );
        }
    }
    let bad = h2o(&["completions", "tcsh"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value"));
}

#[test]
fn version_names_the_features() {
    let out = h2o(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let want = format!("h2o {} (features: native", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    // The default build has TLS.
    assert!(text.contains(" tls"), "{text}");
}
