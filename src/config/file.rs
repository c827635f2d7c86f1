//! The optional settings file (`--config FILE`): a JSON object whose keys are the long flag
//! names without dashes in front (`"listen"`, `"database-url"`, ...). Its values are defaults:
//! a flag or environment variable for the same setting wins. Every key and value is checked at
//! start-up, and each mistake is reported on one line.

use std::{ffi::OsString, path::Path};

use clap::{ArgAction, CommandFactory, parser::ValueSource};
use serde_json::Value;

use super::Config;

/// Settings that cannot come from the file.
const NOT_IN_FILE: &[&str] = &["config", "help", "version"];

/// Reads `path` and returns the command-line arguments it stands for, leaving out the settings
/// `given` says came from the command line or the environment. Errors are one line each.
pub fn arguments(path: &Path, given: &clap::ArgMatches) -> Result<Vec<OsString>, Vec<String>> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: cannot read the settings file: {e}")])?;
    let object = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(vec![format!("{shown}: the settings file must hold one JSON object")]),
        Err(e) => return Err(vec![format!("{shown}: not valid JSON: {e}")]),
    };
    let command = Config::command();
    let mut arguments = Vec::new();
    let mut mistakes = Vec::new();
    for (key, value) in &object {
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(key.as_str()) && !NOT_IN_FILE.contains(&key.as_str()))
        else {
            mistakes.push(format!(
                "{shown}: unknown setting {key:?}; keys are the long flag names of amicopyd --help"
            ));
            continue;
        };
        let flag = format!("--{key}");
        let words = match to_words(&flag, value, arg.get_action()) {
            Ok(words) => words,
            Err(message) => {
                mistakes.push(format!("{shown}: {key}: {message}"));
                continue;
            }
        };
        let mut alone = vec![OsString::from("amicopyd")];
        alone.extend(words.iter().map(OsString::from));
        if let Err(error) = Config::command().try_get_matches_from(alone) {
            let first = error.to_string().lines().next().unwrap_or_default().to_owned();
            mistakes.push(format!("{shown}: {key}: {}", first.trim_start_matches("error: ")));
            continue;
        }
        let from_flag_or_env = matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if !from_flag_or_env {
            arguments.extend(words.into_iter().map(OsString::from));
        }
    }
    if mistakes.is_empty() {
        Ok(arguments)
    } else {
        Err(mistakes)
    }
}

/// The command-line words for one file value.
fn to_words(flag: &str, value: &Value, action: &ArgAction) -> Result<Vec<String>, String> {
    let scalar = |value: &Value| match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err("expected a string, a number or a boolean".to_owned()),
    };
    match (value, action) {
        (Value::Bool(true), ArgAction::SetTrue) => Ok(vec![flag.to_owned()]),
        (Value::Bool(false), ArgAction::SetTrue) => Ok(Vec::new()),
        (_, ArgAction::SetTrue) => Err("expected true or false".to_owned()),
        (Value::Array(items), ArgAction::Append) => items
            .iter()
            .map(|item| scalar(item).map(|text| [flag.to_owned(), text]))
            .collect::<Result<Vec<_>, _>>()
            .map(|pairs| pairs.concat()),
        (value, _) => Ok(vec![flag.to_owned(), scalar(value)?]),
    }
}
