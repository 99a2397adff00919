//! `state ID` and `list`: the records under --root with each container's OCI status.

use super::args::{Global, IdArg, ListArgs, ListFormat};
use super::state::{self, Root};
use super::{OciError, Result};

pub fn state(g: &Global, a: IdArg) -> Result<i32> {
    let root = Root::open(&g.root)?;
    let r = root
        .load(&a.id)?
        .ok_or_else(|| OciError::NotFound(a.id.clone()))?;
    let doc = state::oci_state(&r, r.status());
    print(&serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    Ok(0)
}

pub fn list(g: &Global, a: ListArgs) -> Result<i32> {
    let root = Root::open(&g.root)?;
    let records = root.list()?;
    if a.quiet {
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        if !ids.is_empty() {
            print(&ids.join("\n"))?;
        }
        return Ok(0);
    }
    match a.format {
        ListFormat::Json => {
            let docs: Vec<serde_json::Value> = records
                .iter()
                .map(|r| state::oci_state(r, r.status()))
                .collect();
            print(&serde_json::Value::Array(docs).to_string())?;
        }
        ListFormat::Table => {
            let mut out = format!(
                "{:<12} {:<10} {:<10} {:<40} {:<30} {}\n",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"
            );
            for r in &records {
                let st = r.status();
                let doc = state::oci_state(r, st);
                out.push_str(&format!(
                    "{:<12} {:<10} {:<10} {:<40} {:<30} {}\n",
                    r.id,
                    doc["pid"].to_string(),
                    doc["status"].as_str().unwrap_or(""),
                    r.bundle.display(),
                    r.created,
                    if r.owner.is_empty() { "root" } else { &r.owner }
                ));
            }
            print(out.trim_end())?;
        }
    }
    Ok(0)
}

fn print(s: &str) -> Result<()> {
    crate::cli::write_out(format_args!("{s}\n")).map_err(|e| OciError::other(e.to_string()))
}
