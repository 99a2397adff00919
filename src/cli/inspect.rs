//! `nsbox inspect`: Docker-shaped JSON for containers, images and volumes, and `-f` Go
//! templates (gtmpl, with Docker's `json`, `join`, `upper`, `lower` functions).

use super::ExitError;
use crate::dataroot::DataRoot;
use crate::image::ImageStore;
use crate::state::{ContainerState, Containers, Phase, UNKNOWN_EXIT};
use crate::storage::volumes::Volumes;
use anyhow::Result;
use clap::{Args, ValueEnum};
use gtmpl::{Context, FuncError, Template, Value};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectType {
    Container,
    Image,
    Volume,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a Go template, e.g. '{{.State.Pid}}' or '{{json .Mounts}}'.
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    /// Only look for this kind of object.
    #[arg(long = "type", value_enum)]
    pub kind: Option<ObjectType>,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub fn inspect(root: &DataRoot, a: InspectArgs) -> Result<()> {
    // Parse the template first: a bad one is an error before any lookup.
    let template = a.format.as_deref().map(parse_template).transpose()?;
    let mut objects = Vec::new();
    for name in &a.names {
        objects.push(find(root, name, a.kind)?);
    }
    match template {
        None => println!("{}", serde_json::to_string_pretty(&Json::Array(objects))?),
        Some(t) => {
            for o in &objects {
                println!("{}", render(&t, o)?);
            }
        }
    }
    Ok(())
}

/// Docker's lookup order: container, image, volume (or only the kind asked for).
fn find(root: &DataRoot, name: &str, kind: Option<ObjectType>) -> Result<Json> {
    let wants = |k: ObjectType| kind.is_none_or(|w| w == k);
    if wants(ObjectType::Container) {
        if let Ok(st) = Containers::open(root)?.resolve(name) {
            return container_json(root, &st);
        }
    }
    if wants(ObjectType::Image) {
        let store = ImageStore::open(root)?;
        if let Ok(img) = store.resolve(name) {
            return Ok(store.inspect_json(&img)?);
        }
    }
    if wants(ObjectType::Volume) {
        let vols = Volumes::open(root)?;
        if let Ok(v) = vols.get(name) {
            return Ok(super::volume::volume_json(&vols, &v));
        }
    }
    Err(ExitError::new(1, format!("Error: No such object: {name}")).into())
}

/// Entrypoint and Cmd as Docker shows them: the image's entrypoint when the command starts
/// with it (nsbox keeps only the merged argv), the rest as Cmd.
fn split_command(root: &DataRoot, st: &ContainerState) -> (Json, Json, Json) {
    let config = ImageStore::open(root)
        .ok()
        .and_then(|s| s.resolve(&st.image_id).ok().and_then(|r| s.config(&r).ok()));
    let c = config.as_ref().and_then(|c| c.config().clone());
    let labels = c
        .as_ref()
        .and_then(|c| c.labels().clone())
        .map(|l| json!(l))
        .unwrap_or_else(|| json!({}));
    let ep = c
        .as_ref()
        .and_then(|c| c.entrypoint().clone())
        .unwrap_or_default();
    if !ep.is_empty() && st.command.starts_with(&ep) {
        (json!(ep), json!(st.command[ep.len()..]), labels)
    } else {
        (Json::Null, json!(st.command), labels)
    }
}

/// A container as `docker inspect` shows it (the fields nsbox has).
pub fn container_json(root: &DataRoot, st: &ContainerState) -> Result<Json> {
    let spec = Spec::load(st.bundle.join("config.json")).ok();
    let process = spec.as_ref().and_then(|s| s.process().clone());
    let alive = st.is_alive();
    let phase = st.phase();
    // Docker: a restarting container is still "Running"; an exit nobody recorded is
    // containerd's unknown status (255), never 0.
    let exit_code = match phase {
        Phase::Dead => st.exit_code.unwrap_or(UNKNOWN_EXIT),
        _ => st.exit_code.unwrap_or(0),
    };
    let error = match phase {
        Phase::Dead if st.monitor_alive() => "exit status not recorded yet",
        Phase::Dead => "exit status unknown: its monitor is gone",
        _ => "",
    };
    let namespaces = spec
        .as_ref()
        .and_then(|s| s.linux().as_ref())
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let own_net = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none());
    let dir = st.bundle.clone();
    let graph = if st.lower_dirs.is_empty() {
        json!({"Name": "", "Data": null})
    } else {
        let lower: Vec<String> = st
            .lower_dirs
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        json!({"Name": "overlay", "Data": {
            "LowerDir": lower.join(":"),
            "UpperDir": dir.join("upper"),
            "WorkDir": dir.join("work"),
            "MergedDir": dir.join("merged"),
        }})
    };
    let mut host_config = serde_json::to_value(&st.host_config)?;
    if let Json::Object(m) = &mut host_config {
        m.insert("AutoRemove".into(), st.auto_remove.into());
        let (name, retries) = st.restart.docker();
        m.insert(
            "RestartPolicy".into(),
            json!({"Name": name, "MaximumRetryCount": retries}),
        );
        m.insert(
            "NetworkMode".into(),
            (if own_net { "none" } else { "host" }).into(),
        );
        let ro = spec
            .as_ref()
            .and_then(|s| s.root().as_ref())
            .and_then(|r| r.readonly())
            .unwrap_or(false);
        m.insert("ReadonlyRootfs".into(), ro.into());
    }
    let args = st.command.clone();
    let (entrypoint, cmd, labels) = split_command(root, st);
    Ok(json!({
        "Id": st.id,
        "Created": st.created,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": phase.docker(),
            "Running": matches!(phase, Phase::Running | Phase::Restarting),
            "Paused": false,
            "Restarting": phase == Phase::Restarting,
            "OOMKilled": st.oom_killed,
            "Dead": phase == Phase::Dead,
            "Pid": if alive { st.pid } else { 0 },
            "ExitCode": exit_code,
            "Error": error,
            "StartedAt": st.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": st.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        },
        "Image": st.image_id,
        "Name": format!("/{}", st.name),
        "RestartCount": st.restart_count,
        "LogPath": st.log_path,
        "Driver": graph["Name"],
        "Platform": "linux",
        "HostConfig": host_config,
        "GraphDriver": graph,
        "Mounts": mounts_json(st),
        "Config": {
            "Hostname": spec.as_ref().and_then(|s| s.hostname().clone()).unwrap_or_default(),
            "User": process.as_ref().map(|p| format!("{}:{}", p.user().uid(), p.user().gid())).unwrap_or_default(),
            "Tty": process.as_ref().and_then(|p| p.terminal()).unwrap_or(false),
            "Env": process.as_ref().and_then(|p| p.env().clone()).unwrap_or_default(),
            "Cmd": cmd,
            "Entrypoint": entrypoint,
            "Image": st.image,
            "WorkingDir": process.as_ref().map(|p| p.cwd().display().to_string()).unwrap_or_default(),
            "Labels": labels,
        },
        "CgroupPath": st.cgroup,
    }))
}

/// The container's mounts as Docker lists them (without nsbox's internal fields).
fn mounts_json(st: &ContainerState) -> Json {
    Json::Array(
        st.mounts
            .iter()
            .map(|m| {
                let mut v = serde_json::to_value(m).unwrap_or(Json::Null);
                if let Json::Object(o) = &mut v {
                    o.remove("Anonymous");
                }
                v
            })
            .collect(),
    )
}

pub(super) fn parse_template(text: &str) -> Result<Template> {
    let mut t = Template::default();
    t.add_funcs(&[
        ("json", json_func as gtmpl::Func),
        ("join", join_func as gtmpl::Func),
        ("upper", upper_func as gtmpl::Func),
        ("lower", lower_func as gtmpl::Func),
    ]);
    t.parse(text)
        .map_err(|e| ExitError::new(125, format!("template parsing error: {e}")))?;
    Ok(t)
}

pub(super) fn render(t: &Template, obj: &Json) -> Result<String> {
    t.render(&Context::from(to_gtmpl(obj))).map_err(|e| {
        // gtmpl appends a dump of the whole object after " for "; the field name is enough.
        let msg = e.to_string();
        let msg = msg.split(" for {").next().unwrap_or(&msg).to_string();
        ExitError::new(125, format!("template: executing --format: {msg}")).into()
    })
}

/// JSON objects become Go-like structs: a missing field is an error, as in Docker.
fn to_gtmpl(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (_, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_gtmpl).collect()),
        Json::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil | Value::NoValue | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(Json::Null),
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Object(o) | Value::Map(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), to_json(&o[k])))
                    .collect(),
            )
        }
    }
}

fn one_arg<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, FuncError> {
    match args {
        [v] => Ok(v),
        _ => Err(FuncError::ExactlyXArgs(name.into(), 1)),
    }
}

fn json_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(to_json(one_arg("json", args)?).to_string()))
}

fn join_func(args: &[Value]) -> Result<Value, FuncError> {
    let [Value::Array(items), Value::String(sep)] = args else {
        return Err(FuncError::ExactlyXArgs("join".into(), 2));
    };
    Ok(Value::String(
        items
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(sep),
    ))
}

fn upper_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(
        one_arg("upper", args)?.to_string().to_uppercase(),
    ))
}

fn lower_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(
        one_arg("lower", args)?.to_string().to_lowercase(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(t: &str, v: &Json) -> Result<String> {
        render(&parse_template(t)?, v)
    }

    #[test]
    fn go_templates_over_inspect_json() {
        let v = json!({"State": {"Pid": 42, "OOMKilled": true}, "Args": ["a", "b"], "Mounts": [{"Type": "bind"}], "Name": "/x"});
        assert_eq!(fmt("{{.State.Pid}}", &v).unwrap(), "42");
        assert_eq!(fmt("{{.State.OOMKilled}}", &v).unwrap(), "true");
        assert_eq!(fmt("{{json .Mounts}}", &v).unwrap(), r#"[{"Type":"bind"}]"#);
        assert_eq!(fmt("{{join .Args \",\"}}", &v).unwrap(), "a,b");
        assert_eq!(fmt("{{range .Args}}[{{.}}]{{end}}", &v).unwrap(), "[a][b]");
        assert_eq!(fmt("{{index .Args 1}}", &v).unwrap(), "b");
        assert_eq!(fmt("{{upper .Name}}", &v).unwrap(), "/X");
        assert!(parse_template("{{.State.Pid").is_err(), "unparsable");
        assert!(fmt("{{.State.NoSuchField}}", &v).is_err(), "missing field");
    }
}
