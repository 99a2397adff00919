//! nsbox: a container runtime you can read. The binary only picks the personality by how it
//! was called: as `nsbox-runtime` (a link `make install` makes) or `nsbox runtime …` it is
//! runc's command line, for engines; otherwise Docker's. All of nsbox is the library.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let called = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("nsbox");
    if called.starts_with("nsbox-runtime") {
        return nsbox::cli::oci::main(argv);
    }
    if argv.get(1).is_some_and(|a| a == "runtime") {
        let mut rest = vec![OsString::from("nsbox-runtime")];
        rest.extend(argv.into_iter().skip(2));
        return nsbox::cli::oci::main(rest);
    }
    nsbox::cli::app::main()
}
