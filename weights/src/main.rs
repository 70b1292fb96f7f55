//! `convert-weights [--src DIR] [--out FILE] [--dtype f16|f32]`: writes the engine's weights file
//! and a `.sha256` beside it that the web page checks its download against.

use std::path::PathBuf;
use std::process::ExitCode;

use deepdream_weights::{WireDtype, convert, hex};
use sha2::{Digest, Sha256};

const DEFAULT_SRC: &str = "../shared/weights/bvlc_googlenet_caffejs";
const USAGE: &str = "usage: convert-weights [--src DIR] [--out FILE] [--dtype f16|f32]";

fn run() -> Result<String, String> {
    let mut src = std::env::var_os("DEEPDREAM_WEIGHTS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SRC));
    let mut out = PathBuf::from("weights/googlenet.safetensors");
    // f32 by default: f16 on the wire moved activations by up to 4e-4 and the gradient by 4e-2
    // (relative), outside the fidelity bounds (docs/fidelity.md).
    let mut dtype = WireDtype::F32;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value; {USAGE}"))
        };
        match arg.as_str() {
            "--src" => src = PathBuf::from(value()?),
            "--out" => out = PathBuf::from(value()?),
            "--dtype" => dtype = value()?.parse().map_err(|e| format!("{e}"))?,
            "-h" | "--help" => return Ok(USAGE.to_string()),
            other => return Err(format!("unknown argument '{other}'; {USAGE}")),
        }
    }
    let bytes = convert(&src, dtype).map_err(|e| e.to_string())?;
    let digest = hex(&Sha256::digest(&bytes));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    }
    std::fs::write(&out, &bytes).map_err(|e| format!("could not write {}: {e}", out.display()))?;
    let sum = out.with_extension("safetensors.sha256");
    std::fs::write(&sum, format!("{digest}\n"))
        .map_err(|e| format!("could not write {}: {e}", sum.display()))?;
    Ok(format!(
        "wrote {} ({} bytes, {dtype}, sha256 {digest}) from {}",
        out.display(),
        bytes.len(),
        src.display()
    ))
}

fn main() -> ExitCode {
    match run() {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("convert-weights: {message}");
            ExitCode::FAILURE
        }
    }
}
