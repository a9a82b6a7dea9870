//! Build script: turns `kernels/*.cu` into what the CUDA backend and the emulated device load.
//!
//! Production kernels are `kernels/*.cu`; test-only kernels are `kernels/test/*.cu`, which never
//! reach the binary's PTX, sources or signatures.
//!
//! Always: parses every `extern "C" __global__` signature and writes `OUT_DIR/kernels.rs` with
//! `PTX`, `SOURCES` (each file with `common.cuh` inlined, for NVRTC), `BUILD_INFO` and `KERNEL_SIGS`
//! of the production kernels, and `OUT_DIR/test_kernels.rs` with `TEST_PTX`, `TEST_SOURCES` and
//! `TEST_KERNELS` of the test-only ones (the test binaries include it; PTX in `OUT_DIR/test/`).
//!
//! Feature `cuda`: compiles each file to PTX for the oldest virtual architecture the toolkit
//! supports (and the modules in `SM90_MODULES` once more for compute_90, `PTX_SM90`), with the
//! first `nvcc` found in this order:
//! 1. `$NVCC` (set `NVCC=none` to skip nvcc and use NVRTC at start-up),
//! 2. `$CUDA_PATH/bin/nvcc`, then `$CUDA_HOME/bin/nvcc`,
//! 3. `nvcc` on `$PATH`,
//! 4. `.ci-cache/cuda-pip/nvidia/cu13/bin/nvcc` in this crate (what `scripts/install-nvcc.sh` installs),
//! 5. `/usr/local/cuda/bin/nvcc`.
//!
//! Without one, `PTX` is empty and the backend compiles `SOURCES` with NVRTC. `nvidia-smi` is never run.
//!
//! Feature `emulator`: compiles the same kernel files as C++17 against `kernels/emulator/cuda_emu.h`,
//! with the emulator runtime and a generated launch table, into a static library that provides
//! `w2v_emu_launch`; the emulator holds the test-only kernels too (it is a test device).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One kernel: name, module (file stem) and normalised argument types.
struct KernelSig {
    name: String,
    module: String,
    args: Vec<&'static str>,
}

/// A kernel source file.
struct Module {
    name: String,
    path: PathBuf,
    /// The source with `common.cuh` inlined.
    inlined: String,
}

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let kernels = root.join("kernels");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=kernels");
    for var in ["NVCC", "CUDA_PATH", "CUDA_HOME", "PATH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let common = read(&kernels.join("common.cuh"));
    let modules = read_modules(&kernels, &common);
    let test_modules = read_modules(&kernels.join("test"), &common);
    let sigs = signatures(&modules);
    let test_sigs = signatures(&test_modules);

    let test_out = out.join("test");
    fs::create_dir_all(&test_out)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", test_out.display()));
    let (ptx, ptx_sm90, test_ptx, build_info) = if env::var_os("CARGO_FEATURE_CUDA").is_some() {
        let (ptx, info) = compile_ptx(&root, &kernels, &modules, &out, None);
        // The same nvcc for the test kernels, or none (then the GPU tests compile them with NVRTC).
        let (test_ptx, sm90) = if ptx.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let sm90_out = out.join("sm90");
            fs::create_dir_all(&sm90_out)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", sm90_out.display()));
            let sm90_modules: Vec<Module> = modules
                .iter()
                .filter(|m| SM90_MODULES.contains(&m.name.as_str()))
                .map(|m| Module {
                    name: m.name.clone(),
                    path: m.path.clone(),
                    inlined: String::new(),
                })
                .collect();
            (
                compile_ptx(&root, &kernels, &test_modules, &test_out, None).0,
                compile_ptx(
                    &root,
                    &kernels,
                    &sm90_modules,
                    &sm90_out,
                    Some("compute_90"),
                )
                .0,
            )
        };
        (ptx, sm90, test_ptx, info)
    } else {
        (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            "no CUDA kernels (built without the `cuda` feature)".to_string(),
        )
    };
    write_kernels_rs(&out, &modules, &ptx, &ptx_sm90, &build_info, &sigs);
    write_test_kernels_rs(&test_out, &test_modules, &test_ptx, &test_sigs);

    if env::var_os("CARGO_FEATURE_EMULATOR").is_some() {
        let all: Vec<&Module> = modules.iter().chain(&test_modules).collect();
        let all_sigs: Vec<&KernelSig> = sigs.iter().chain(&test_sigs).collect();
        build_emulator(&kernels, &all, &all_sigs, &out);
    }
}

fn signatures(modules: &[Module]) -> Vec<KernelSig> {
    modules
        .iter()
        .flat_map(|m| parse_signatures(&m.name, &read(&m.path)))
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// `dir/*.cu`, sorted by name, each with `common.cuh` inlined.
fn read_modules(dir: &Path, common: &str) -> Vec<Module> {
    let common_body: String = common
        .lines()
        .filter(|l| l.trim() != "#pragma once")
        .map(|l| format!("{l}\n"))
        .collect();
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cu"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .expect("a .cu file has a stem")
                .to_string_lossy()
                .into_owned();
            let inlined = read(&path)
                .lines()
                .map(|l| {
                    if l.trim() == "#include \"common.cuh\"" {
                        common_body.clone()
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            Module {
                name,
                path,
                inlined,
            }
        })
        .collect()
}

/// Removes `/* … */` and `// …` comments (kernel sources have no comment markers inside strings).
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
            out.push(' ');
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else {
            let c = rest.chars().next().expect("non-empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Every `extern "C" __global__ void name(args)` of one file.
fn parse_signatures(module: &str, src: &str) -> Vec<KernelSig> {
    let src = strip_launch_bounds(&strip_comments(src));
    let marker = "extern \"C\" __global__";
    let mut sigs = Vec::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let open = rest
            .find('(')
            .expect("kernel signature has an argument list");
        let head = rest[..open].trim();
        let name = head
            .strip_prefix("void")
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or_else(|| {
                panic!("kernels/{module}.cu: cannot parse kernel head `{head}` (want `void name(`)")
            });
        let close = rest[open..].find(')').expect("kernel argument list closes") + open;
        let args = rest[open + 1..close]
            .split(',')
            .filter(|a| !a.trim().is_empty())
            .map(|a| normalise_arg(module, name, a))
            .collect();
        sigs.push(KernelSig {
            name: name.to_string(),
            module: module.to_string(),
            args,
        });
        rest = &rest[close..];
    }
    sigs
}

/// Removes `__launch_bounds__(…)` (between `void` and a kernel's name; not part of its signature).
fn strip_launch_bounds(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("__launch_bounds__") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let close = after.find(')').expect("__launch_bounds__(...) closes");
        out.push(' ');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// C argument declaration (`const float* __restrict__ rows`) → normalised type (`const f32*`).
fn normalise_arg(module: &str, kernel: &str, decl: &str) -> &'static str {
    let spaced = decl.replace('*', " * ");
    let mut tokens: Vec<&str> = spaced
        .split_whitespace()
        .filter(|t| *t != "__restrict__")
        .collect();
    tokens.pop(); // the parameter name
    let ty = tokens.join(" ").replace(" *", "*");
    NORMALISED
        .iter()
        .find(|(c, _)| *c == ty)
        .map(|(_, n)| *n)
        .unwrap_or_else(|| panic!("kernels/{module}.cu: {kernel} has an argument of type `{ty}`; use one of {NORMALISED:?}"))
}

/// C argument types the kernels may use and their normalised names (the launch contract).
const NORMALISED: &[(&str, &str)] = &[
    ("float*", "f32*"),
    ("const float*", "const f32*"),
    ("unsigned*", "u32*"),
    ("const unsigned*", "const u32*"),
    ("const unsigned long long*", "const u64*"),
    ("double*", "f64*"),
    // IEEE half (binary16) bits: kernels cannot include cuda_fp16.h (NVRTC has no system headers),
    // so a half buffer is `unsigned short*` in C and a `DeviceBuf<half::f16>` on the host.
    ("unsigned short*", "f16*"),
    ("const unsigned short*", "const f16*"),
    // bfloat16 bits: `W2vBf16*` (common.cuh, a struct of one `unsigned short`, so that templates
    // tell it from a half) and a `DeviceBuf<half::bf16>` on the host.
    ("W2vBf16*", "bf16*"),
    ("unsigned", "u32"),
    ("unsigned long long", "u64"),
    ("float", "f32"),
];

fn c_type(normalised: &str) -> &'static str {
    NORMALISED
        .iter()
        .find(|(_, n)| *n == normalised)
        .map(|(c, _)| *c)
        .expect("normalised type")
}

/// The nvcc to use, in the documented order, or None.
fn find_nvcc(root: &Path) -> Option<PathBuf> {
    if let Some(v) = env::var_os("NVCC") {
        if v == "none" || v.is_empty() {
            return None;
        }
        return Some(PathBuf::from(v));
    }
    let mut candidates = Vec::new();
    for var in ["CUDA_PATH", "CUDA_HOME"] {
        if let Some(dir) = env::var_os(var) {
            candidates.push(PathBuf::from(dir).join("bin").join("nvcc"));
        }
    }
    if let Some(path) = env::var_os("PATH") {
        candidates.extend(env::split_paths(&path).map(|d| d.join("nvcc")));
    }
    candidates.push(root.join(".ci-cache/cuda-pip/nvidia/cu13/bin/nvcc"));
    candidates.push(PathBuf::from("/usr/local/cuda/bin/nvcc"));
    candidates.into_iter().find(|p| p.is_file())
}

/// `nvcc --version`'s release (e.g. `13.0.88`), or None when nvcc does not run.
fn nvcc_version(nvcc: &Path) -> Option<String> {
    let out = Command::new(nvcc).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let release = text
        .lines()
        .rev()
        .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix('V')));
    Some(release.unwrap_or("unknown version").to_string())
}

/// The oldest virtual architecture nvcc lists (`compute_75` for CUDA 13).
fn oldest_arch(nvcc: &Path) -> String {
    let listed = Command::new(nvcc)
        .arg("--list-gpu-arch")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    listed
        .split_whitespace()
        .filter_map(|w| {
            w.strip_prefix("compute_")
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| (n, w))
        })
        .min()
        .map(|(_, w)| w.to_string())
        .unwrap_or_else(|| "compute_75".to_string())
}

/// Modules that have paths only sm_90 compiles (`W2V_VECTOR_ATOMICS` in common.cuh): built a
/// second time for compute_90, which the driver loads on devices of compute capability 9.0+.
const SM90_MODULES: &[&str] = &["sgns_v2"];

/// PTX of every module with nvcc (for `arch`, default the oldest it supports), or no PTX and an
/// NVRTC note when there is no nvcc.
fn compile_ptx(
    root: &Path,
    kernels: &Path,
    modules: &[Module],
    out: &Path,
    arch: Option<&str>,
) -> (Vec<(String, PathBuf)>, String) {
    let nvrtc = "NVRTC at start-up (no nvcc at build)".to_string();
    let Some(nvcc) = find_nvcc(root) else {
        return (Vec::new(), nvrtc);
    };
    println!("cargo:rerun-if-changed={}", nvcc.display());
    let Some(version) = nvcc_version(&nvcc) else {
        println!(
            "cargo:warning={} does not run; kernels will be compiled with NVRTC at start-up",
            nvcc.display()
        );
        return (Vec::new(), nvrtc);
    };
    let arch = arch.map_or_else(|| oldest_arch(&nvcc), str::to_string);
    let jobs: Vec<(String, PathBuf, std::process::Child)> = modules
        .iter()
        .map(|m| {
            let ptx = out.join(format!("{}.ptx", m.name));
            let child = Command::new(&nvcc)
                .args(["-ptx", "-std=c++17", "-O3"])
                .arg(format!("-arch={arch}"))
                .arg("-I")
                .arg(kernels)
                .arg("-o")
                .arg(&ptx)
                .arg(&m.path)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", nvcc.display()));
            (m.name.clone(), ptx, child)
        })
        .collect();
    let mut ptx = Vec::new();
    for (name, path, child) in jobs {
        let status = child.wait_with_output().expect("nvcc finishes").status;
        assert!(
            status.success(),
            "{} failed on kernels/{name}.cu (see its messages above); fix the kernel, or set NVCC=none to build without nvcc",
            nvcc.display()
        );
        ptx.push((name, path));
    }
    (ptx, format!("nvcc {version} -arch={arch}"))
}

/// `pub const {prefix}PTX` and `{prefix}SOURCES`: each module's PTX and its source with
/// `common.cuh` inlined (written to `dir`), `(module, text)`.
fn write_ptx_and_sources(
    s: &mut String,
    prefix: &str,
    dir: &Path,
    modules: &[Module],
    ptx: &[(String, PathBuf)],
) {
    s.push_str("/// PTX of each kernel module, `(module, text)`; empty when built without nvcc.\n");
    writeln!(s, "pub const {prefix}PTX: &[(&str, &str)] = &[").unwrap();
    for (name, path) in ptx {
        writeln!(
            s,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    s.push_str("];\n\n");
    s.push_str(
        "/// CUDA source of each module with `common.cuh` inlined, `(module, text)`, for NVRTC.\n",
    );
    writeln!(s, "pub const {prefix}SOURCES: &[(&str, &str)] = &[").unwrap();
    for m in modules {
        let path = dir.join(format!("{}.inlined.cu", m.name));
        write(&path, &m.inlined);
        writeln!(
            s,
            "    ({:?}, include_str!({:?})),",
            m.name,
            path.display().to_string()
        )
        .unwrap();
    }
    s.push_str("];\n\n");
}

/// `OUT_DIR/kernels.rs`: what the binary embeds (production kernels only).
fn write_kernels_rs(
    out: &Path,
    modules: &[Module],
    ptx: &[(String, PathBuf)],
    ptx_sm90: &[(String, PathBuf)],
    info: &str,
    sigs: &[KernelSig],
) {
    let mut s = String::from("// Generated by build.rs from kernels/*.cu; do not edit.\n\n");
    write_ptx_and_sources(&mut s, "", out, modules, ptx);
    s.push_str("/// PTX for compute_90 of the modules with sm_90-only paths, `(module, text)`: what a\n/// device of compute capability 9.0+ loads instead of `PTX`'s; empty without nvcc.\n");
    s.push_str("pub const PTX_SM90: &[(&str, &str)] = &[\n");
    for (name, path) in ptx_sm90 {
        writeln!(
            s,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    s.push_str("];\n\n");
    s.push_str("/// How the kernels were built, for `w2v-gpu info`.\n");
    writeln!(s, "pub const BUILD_INFO: &str = {info:?};\n").unwrap();
    s.push_str("/// `(kernel, module, normalised argument types)` of every `extern \"C\" __global__` kernel.\n");
    s.push_str("pub const KERNEL_SIGS: &[(&str, &str, &[&str])] = &[\n");
    for k in sigs {
        writeln!(s, "    ({:?}, {:?}, &{:?}),", k.name, k.module, k.args).unwrap();
    }
    s.push_str("];\n");
    write(&out.join("kernels.rs"), &s);
}

/// `OUT_DIR/test/test_kernels.rs`: the test-only kernels (`kernels/test/*.cu`) for the test
/// binaries that load them on a GPU themselves.
fn write_test_kernels_rs(
    dir: &Path,
    modules: &[Module],
    ptx: &[(String, PathBuf)],
    sigs: &[KernelSig],
) {
    let mut s = String::from("// Generated by build.rs from kernels/test/*.cu; do not edit.\n\n");
    write_ptx_and_sources(&mut s, "TEST_", dir, modules, ptx);
    s.push_str("/// `(kernel, module)` of every test-only kernel.\n");
    s.push_str("pub const TEST_KERNELS: &[(&str, &str)] = &[\n");
    for k in sigs {
        writeln!(s, "    ({:?}, {:?}),", k.name, k.module).unwrap();
    }
    s.push_str("];\n");
    write(&dir.join("test_kernels.rs"), &s);
}

/// The emulator's launch table: a trampoline per kernel that unpacks cuLaunchKernel-style arguments.
fn dispatcher_source(sigs: &[&KernelSig]) -> String {
    let mut s = String::from("// Generated by build.rs: the emulated device's kernel table.\n#include \"cuda_emu.h\"\n\n");
    for k in sigs {
        let params: Vec<&str> = k.args.iter().map(|a| c_type(a)).collect();
        writeln!(s, "extern \"C\" void {}({});", k.name, params.join(", ")).unwrap();
        let unpacked: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, c)| format!("*static_cast<{c} const*>(a[{i}])"))
            .collect();
        writeln!(
            s,
            "static void call_{}(void* const* a) {{ {}({}); }}",
            k.name,
            k.name,
            unpacked.join(", ")
        )
        .unwrap();
        let types: Vec<String> = k.args.iter().map(|a| format!("{a:?}")).collect();
        writeln!(
            s,
            "static const char* const types_{}[] = {{{}}};\n",
            k.name,
            types.join(", ")
        )
        .unwrap();
    }
    s.push_str("const W2vEmuKernel w2v_emu_kernels[] = {\n");
    for k in sigs {
        writeln!(
            s,
            "    {{{:?}, call_{}, types_{}, {}}},",
            k.name,
            k.name,
            k.name,
            k.args.len()
        )
        .unwrap();
    }
    s.push_str("};\n");
    writeln!(s, "const unsigned w2v_emu_kernel_count = {};", sigs.len()).unwrap();
    s
}

fn build_emulator(kernels: &Path, modules: &[&Module], sigs: &[&KernelSig], out: &Path) {
    let emu = kernels.join("emulator");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .opt_level(2)
        .flag("-std=c++17")
        .flag("-pthread")
        .flag("-ffp-contract=off")
        .flag("-Wno-unknown-pragmas")
        .include(kernels)
        .include(&emu)
        .file(emu.join("runtime.cpp"))
        .file(emu.join("traffic.cpp"));
    for m in modules {
        let wrapper = out.join(format!("emu_{}.cpp", m.name));
        write(
            &wrapper,
            &format!(
                "#include \"cuda_emu.h\"\n#include {:?}\n",
                m.path.display().to_string()
            ),
        );
        build.file(wrapper);
    }
    let dispatch = out.join("emu_dispatch.cpp");
    write(&dispatch, &dispatcher_source(sigs));
    build.file(dispatch);
    build.compile("w2v_emu");
    println!("cargo:rustc-link-lib=pthread");
}
