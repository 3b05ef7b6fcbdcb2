//! `pdfmill convert` as a person runs it: a real process, real files, exit codes and messages.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn suite(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pdf/tests/pngsuite")
        .join(name)
}

fn pdfmill(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdfmill"))
        .args(args)
        .output()
        .expect("pdfmill runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn several_inputs_become_one_pdf_with_a_page_each() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.pdf");
    let output = pdfmill(&[
        "convert".as_ref(),
        suite("basn2c08.png").as_os_str(),
        suite("basi6a16.png").as_os_str(),
        "--page-size".as_ref(),
        "a4".as_ref(),
        "--margin".as_ref(),
        "10mm".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pdf = std::fs::read(&out).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.7"));
    let text = String::from_utf8_lossy(&pdf);
    assert_eq!(
        text.matches("/Type /Page").count() - text.matches("/Type /Pages").count(),
        2,
        "two pages"
    );
}

#[test]
fn a_bad_input_fails_the_document_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.pdf");
    let output = pdfmill(&[
        "convert".as_ref(),
        suite("basn2c08.png").as_os_str(),
        suite("xcsn0g01.png").as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message
            .contains("xcsn0g01.png: the PNG image is corrupt: the IDAT chunk fails its CRC check"),
        "{message}"
    );
    assert!(message.contains("1 of 2 inputs failed"), "{message}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial file is left behind"
    );
}

#[test]
fn each_converts_every_input_and_summarises_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<std::ffi::OsString> = vec!["convert".into(), "--each".into()];
    let suite_dir = suite("");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&suite_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    inputs.sort();
    args.extend(inputs.iter().map(|p| p.clone().into_os_string()));
    args.extend(["--out-dir".into(), dir.path().join("pdfs").into_os_string()]);
    let output = pdfmill(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    assert_eq!(
        output.status.code(),
        Some(1),
        "14 corrupt inputs make the run fail"
    );
    let message = stderr(&output);
    assert!(message.contains("converted 161 of 175 images"), "{message}");
    assert_eq!(
        message
            .lines()
            .filter(|l| l.contains("the PNG image is corrupt"))
            .count(),
        14,
        "{message}"
    );
    let written: Vec<_> = std::fs::read_dir(dir.path().join("pdfs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        written.len(),
        161,
        "one PDF per valid input and no partial files"
    );
    assert!(
        written
            .iter()
            .all(|name| name.to_string_lossy().ends_with(".pdf"))
    );
}

#[test]
fn usage_errors_say_what_to_do() {
    let output = pdfmill(&["convert".as_ref(), suite("basn2c08.png").as_os_str()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--output"), "{}", stderr(&output));

    let output = pdfmill(&[
        "convert".as_ref(),
        "--page-size".as_ref(),
        "huge".as_ref(),
        "x.png".as_ref(),
        "-o".as_ref(),
        "x.pdf".as_ref(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("use image, a3, a4, a5, letter, legal"),
        "{}",
        stderr(&output)
    );

    let help = pdfmill(&["convert".as_ref(), "--help".as_ref()]);
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--each",
        "--out-dir",
        "--page-size",
        "--fit",
        "--margin",
        "--dpi",
        "Examples:",
    ] {
        assert!(help.contains(flag), "--help must mention {flag}");
    }
}
