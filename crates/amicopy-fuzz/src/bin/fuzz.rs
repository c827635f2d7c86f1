//! The AFL++ harness: `AMICOPY_FUZZ_TARGET=validator cargo afl fuzz -i IN -o OUT BINARY`.
//! Without the `afl` feature it replays files instead (`fuzz TARGET FILE...`), which is how a
//! crash AFL++ found is reproduced with an ordinary build.

use amicopy_fuzz::Target;

fn target(name: &str) -> Target {
    Target::from_name(name).unwrap_or_else(|| {
        let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
        eprintln!("unknown fuzz target {name:?}; use one of {}", names.join(", "));
        std::process::exit(2)
    })
}

#[cfg(feature = "afl")]
fn main() {
    let name = std::env::var("AMICOPY_FUZZ_TARGET").unwrap_or_else(|_| "validator".to_owned());
    let target = target(&name);
    afl::fuzz!(|data: &[u8]| {
        target.run(data);
    });
}

#[cfg(not(feature = "afl"))]
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        eprintln!("usage: fuzz TARGET FILE... (replays inputs; build with --features afl under cargo afl to fuzz)");
        std::process::exit(2)
    };
    let target = target(&name);
    for file in args {
        let data = std::fs::read(&file).unwrap_or_else(|e| {
            eprintln!("cannot read {file}: {e}");
            std::process::exit(2)
        });
        target.run(&data);
        println!("{file}: ok");
    }
}
