//! `commit -c`: the Dockerfile instructions `docker commit --change` accepts, applied to the
//! `config` object of an image configuration.

use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum InstrError {
    #[error("dockerfile parse error: unknown instruction in --change {0:?}: only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL are allowed")]
    Unknown(String),
    #[error("dockerfile parse error: {0:?}: {1}")]
    Bad(String, &'static str),
}

/// Apply one `--change` line to `config` (the "config" object of the image configuration).
pub fn apply(config: &mut Map<String, Value>, line: &str) -> Result<(), InstrError> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let bad = |why| InstrError::Bad(line.to_string(), why);
    if rest.is_empty() {
        return Err(bad("missing argument"));
    }
    match word.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), command(rest));
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), command(rest));
        }
        "ENV" => {
            for (k, v) in pairs(rest).ok_or_else(|| bad("want ENV KEY=VALUE or ENV KEY VALUE"))? {
                let env = config.entry("Env").or_insert_with(|| json!([]));
                if !env.is_array() {
                    *env = json!([]);
                }
                if let Value::Array(list) = env {
                    let prefix = format!("{k}=");
                    list.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
                    list.push(Value::String(format!("{k}={v}")));
                }
            }
        }
        "LABEL" => {
            for (k, v) in pairs(rest).ok_or_else(|| bad("want LABEL KEY=VALUE"))? {
                set_key(config, "Labels", &k, Value::String(v));
            }
        }
        "EXPOSE" => {
            for p in rest.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_string()
                } else {
                    format!("{p}/tcp")
                };
                set_key(config, "ExposedPorts", &p, json!({}));
            }
        }
        "VOLUME" => {
            let list = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) => v,
                Err(_) => rest.split_whitespace().map(String::from).collect(),
            };
            for v in list {
                set_key(config, "Volumes", &v, json!({}));
            }
        }
        "USER" => {
            config.insert("User".into(), rest.into());
        }
        "WORKDIR" => {
            config.insert("WorkingDir".into(), rest.into());
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), rest.into());
        }
        _ => return Err(InstrError::Unknown(line.to_string())),
    }
    Ok(())
}

/// Exec form (`["a","b"]`) as is; shell form wrapped in `/bin/sh -c`, as Docker does.
fn command(rest: &str) -> Value {
    match serde_json::from_str::<Vec<String>>(rest) {
        Ok(v) => json!(v),
        Err(_) => json!(["/bin/sh", "-c", rest]),
    }
}

/// `K=V K2="v 2"` or the legacy single `K V`.
fn pairs(rest: &str) -> Option<Vec<(String, String)>> {
    if !rest.split_whitespace().next()?.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        let mut val = String::new();
        let mut quote = None;
        while let Some(&c) = chars.peek() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => break,
                _ => val.push(c),
            }
            chars.next();
        }
        if key.is_empty() || quote.is_some() {
            return None;
        }
        out.push((key, val));
    }
}

fn set_key(config: &mut Map<String, Value>, field: &str, key: &str, v: Value) {
    let obj = config.entry(field).or_insert_with(|| json!({}));
    if !obj.is_object() {
        *obj = json!({});
    }
    if let Value::Object(m) = obj {
        m.insert(key.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_docker_changes() {
        let mut c = Map::new();
        apply(&mut c, r#"CMD ["x", "y"]"#).unwrap();
        apply(&mut c, "ENTRYPOINT echo hi").unwrap();
        apply(&mut c, "ENV A=1 B=\"two words\"").unwrap();
        apply(&mut c, "ENV A 3").unwrap();
        apply(&mut c, "LABEL k=v").unwrap();
        apply(&mut c, "EXPOSE 80").unwrap();
        apply(&mut c, "WORKDIR /srv").unwrap();
        assert_eq!(c["Cmd"], json!(["x", "y"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(c["Env"], json!(["B=two words", "A=3"]));
        assert_eq!(c["Labels"], json!({"k": "v"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(c["WorkingDir"], json!("/srv"));
        assert!(apply(&mut c, "RUN rm -rf /").is_err());
        assert!(apply(&mut c, "CMD").is_err());
        assert!(apply(&mut c, "ENV A=\"open").is_err());
    }
}
