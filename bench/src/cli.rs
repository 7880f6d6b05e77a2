//! The command lines of the drivers (`lambda-trace-bench`, `lambda-trace-soak`): every option is
//! `--name value`.

use std::fmt::Display;
use std::str::FromStr;

/// What the drivers return on a bad command line: a message that ends with the usage.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Calls `option(name, value)` for each `--name value` pair of `args`, in order. `-h`, `--help`
/// and a name without a value are errors that carry `usage`; so is an unknown name (`option`
/// returns `Ok(false)`).
pub fn options(
    mut args: impl Iterator<Item = String>,
    usage: &str,
    mut option: impl FnMut(&str, &str) -> Result<bool, Error>,
) -> Result<(), Error> {
    while let Some(name) = args.next() {
        if name == "-h" || name == "--help" {
            return Err(usage.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{name} needs a value\n{usage}"))?;
        if !option(&name, &value)? {
            return Err(format!("unknown option {name}\n{usage}").into());
        }
    }
    Ok(())
}

/// `value` of option `name` parsed as a `T` (a number, `true` / `false`).
pub fn parse<T: FromStr>(name: &str, value: &str) -> Result<T, Error>
where
    T::Err: Display,
{
    value
        .parse::<T>()
        .map_err(|e| format!("{name} {value:?}: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Vec<(String, u32)>, Error> {
        let mut seen = Vec::new();
        options(
            args.iter().map(|s| s.to_string()),
            "usage: x",
            |name, value| {
                match name {
                    "--n" => seen.push((name.to_owned(), parse(name, value)?)),
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(seen)
    }

    #[test]
    fn pairs_help_and_errors() {
        assert_eq!(run(&["--n", "1", "--n", "2"]).unwrap().len(), 2);
        assert_eq!(run(&["--help"]).unwrap_err().to_string(), "usage: x");
        assert!(
            run(&["--n"])
                .unwrap_err()
                .to_string()
                .contains("--n needs a value")
        );
        assert!(
            run(&["--m", "1"])
                .unwrap_err()
                .to_string()
                .starts_with("unknown option --m")
        );
        assert!(
            run(&["--n", "x"])
                .unwrap_err()
                .to_string()
                .starts_with("--n \"x\"")
        );
    }
}
