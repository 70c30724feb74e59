//! The Python methods chat templates call on strings and dicts (`.strip()`,
//! `.startswith()`, `.items()`, ...). Hugging Face renders templates with Python's Jinja2,
//! where these are ordinary methods; minijinja has none of them, so the common ones are
//! supplied here through minijinja's unknown-method hook.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// Dispatches `value.method(args)` for the Python methods templates use.
pub(crate) fn call_method(
    _state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::String => string_method(value.as_str().unwrap_or_default(), method, args),
        ValueKind::Map => map_method(value, method, args),
        _ => Err(unknown(method)),
    }
}

fn unknown(method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("method `{method}` is not supported"),
    )
}

fn arg_str<'a>(args: &'a [Value], i: usize, method: &str) -> Result<Option<&'a str>, Error> {
    match args.get(i) {
        None => Ok(None),
        Some(v) if v.is_none() || v.is_undefined() => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("`{method}` expects a string argument"),
            )
        }),
    }
}

/// Python's `startswith`/`endswith` accept a string or a tuple of strings.
fn affix_matches(args: &[Value], method: &str, test: impl Fn(&str) -> bool) -> Result<bool, Error> {
    let Some(arg) = args.first() else {
        return Err(Error::new(
            ErrorKind::MissingArgument,
            format!("`{method}` needs an argument"),
        ));
    };
    if let Some(s) = arg.as_str() {
        return Ok(test(s));
    }
    for item in arg.try_iter()? {
        if item.as_str().is_some_and(&test) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn string_method(s: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let chars = |i| arg_str(args, i, method);
    let trim_set = |set: Option<&str>| -> Box<dyn Fn(char) -> bool> {
        match set {
            Some(set) => {
                let set: Vec<char> = set.chars().collect();
                Box::new(move |c| set.contains(&c))
            }
            None => Box::new(char::is_whitespace),
        }
    };
    Ok(match method {
        "strip" => Value::from(s.trim_matches(&*trim_set(chars(0)?))),
        "lstrip" => Value::from(s.trim_start_matches(&*trim_set(chars(0)?))),
        "rstrip" => Value::from(s.trim_end_matches(&*trim_set(chars(0)?))),
        "upper" => Value::from(s.to_uppercase()),
        "lower" => Value::from(s.to_lowercase()),
        "title" => Value::from(title(s)),
        "capitalize" => {
            let mut c = s.chars();
            Value::from(match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            })
        }
        "startswith" => Value::from(affix_matches(args, method, |p| s.starts_with(p))?),
        "endswith" => Value::from(affix_matches(args, method, |p| s.ends_with(p))?),
        "replace" => {
            let (Some(old), Some(new)) = (chars(0)?, chars(1)?) else {
                return Err(Error::new(
                    ErrorKind::MissingArgument,
                    "`replace` needs two strings",
                ));
            };
            match args.get(2).and_then(Value::as_usize) {
                Some(n) => Value::from(s.replacen(old, new, n)),
                None => Value::from(s.replace(old, new)),
            }
        }
        "split" => {
            let max = args.get(1).and_then(Value::as_usize);
            let parts: Vec<Value> = match (chars(0)?, max) {
                (Some(sep), Some(n)) => s.splitn(n + 1, sep).map(Value::from).collect(),
                (Some(sep), None) => s.split(sep).map(Value::from).collect(),
                (None, _) => s.split_whitespace().map(Value::from).collect(),
            };
            Value::from(parts)
        }
        "find" => {
            let needle = chars(0)?.unwrap_or_default();
            Value::from(s.find(needle).map_or(-1, |i| s[..i].chars().count() as i64))
        }
        "count" => Value::from(s.matches(chars(0)?.unwrap_or_default()).count()),
        "isdigit" => Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
        "isspace" => Value::from(!s.is_empty() && s.chars().all(char::is_whitespace)),
        _ => return Err(unknown(method)),
    })
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_alpha = false;
    for c in s.chars() {
        if prev_alpha {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_alpha = c.is_alphabetic();
    }
    out
}

fn map_method(map: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    Ok(match method {
        "items" => {
            let mut items = Vec::new();
            for k in map.try_iter()? {
                let v = map.get_item(&k)?;
                items.push(Value::from(vec![k, v]));
            }
            Value::from(items)
        }
        "keys" => Value::from(map.try_iter()?.collect::<Vec<_>>()),
        "values" => {
            let mut vals = Vec::new();
            for k in map.try_iter()? {
                vals.push(map.get_item(&k)?);
            }
            Value::from(vals)
        }
        "get" => {
            let key = args.first().cloned().unwrap_or_default();
            let v = map.get_item(&key)?;
            if v.is_undefined() {
                args.get(1).cloned().unwrap_or(Value::from(()))
            } else {
                v
            }
        }
        _ => return Err(unknown(method)),
    })
}
